//! Unit tests of the admin library on real temporary data roots: account
//! records written by the real account store, homes with files, tokens.

use super::tokens::TokenStore;
use super::*;
use crate::accounts::{Account, AccountStore};
use crate::protocol::{ErrorCode, scram};
use jiff::{SignedDuration, Timestamp};
use std::fs;

fn now() -> Timestamp {
    "2026-11-23T07:00:00Z".parse().unwrap()
}

fn account(user: &str) -> Account {
    Account {
        v: 1,
        user: user.into(),
        salt: scram::b64(b"0123456789abcdef"),
        iterations: 4096,
        stored_key: scram::b64(&[1; 32]),
        server_key: scram::b64(&[2; 32]),
        created: "2026-01-01T00:00:00.000Z".into(),
        quota: None,
        disabled: false,
        last_login: None,
    }
}

/// A data root with accounts alice and bob; alice has 1000 + 234 bytes at home.
fn root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let store = AccountStore::open(&dir.path().join("accounts")).unwrap();
    store.create(&account("alice")).unwrap();
    store.create(&account("bob")).unwrap();
    let home = dir.path().join("home/alice");
    fs::create_dir_all(home.join("docs")).unwrap();
    fs::write(home.join("a.bin"), vec![0u8; 1000]).unwrap();
    fs::write(home.join("docs/b.txt"), vec![0u8; 234]).unwrap();
    dir
}

fn ok(outcome: Outcome) -> (Reply, Option<Effect>, Option<AdminAudit>) {
    let Outcome { result, effect, audit } = outcome;
    (result.unwrap(), effect, audit)
}

fn token_of(reply: &Reply) -> String {
    match reply {
        Reply::Token { token, .. } => token.clone(),
        other => panic!("expected a token, got {other:?}"),
    }
}

#[test]
fn list_shows_every_account_with_quota_usage_and_flags() {
    let dir = root();
    let admin = Admin::open_offline(dir.path()).unwrap();
    fs::write(dir.path().join("accounts/carol.json"), b"{\"user\": 7").unwrap();
    let (reply, effect, audit) = ok(admin.execute(&Request::List { usage: true }, now()));
    assert!(effect.is_none() && audit.is_none(), "list changes nothing and is not audited");
    let Reply::Accounts { accounts, damaged } = reply else { panic!() };
    let users: Vec<&str> = accounts.iter().map(|a| a.user.as_str()).collect();
    assert_eq!(users, ["alice", "bob"]);
    assert_eq!(accounts[0].used, Some(1234));
    assert_eq!(accounts[1].used, None, "bob has no home yet");
    assert!(!fs::exists(dir.path().join("home/bob")).unwrap(), "listing does not create homes");
    assert_eq!(accounts[0].quota, QuotaSetting::Default);
    assert_eq!((accounts[0].disabled, accounts[0].last_login.as_deref()), (false, None));
    assert_eq!(accounts[0].created, "2026-01-01T00:00:00.000Z");
    assert_eq!(damaged.len(), 1);
    assert!(damaged[0].starts_with("carol: "), "{damaged:?}");
}

#[test]
fn set_quota_rewrites_the_record_keeping_everything_else() {
    let dir = root();
    let admin = Admin::open_offline(dir.path()).unwrap();
    let req = Request::SetQuota { user: "alice".into(), quota: QuotaSetting::Bytes(1 << 30) };
    let (reply, effect, audit) = ok(admin.execute(&req, now()));
    assert!(matches!(reply, Reply::Done { changed: true, .. }));
    assert_eq!(effect, Some(Effect::Quota { user: "alice".into(), quota: Some(1 << 30) }));
    let audit = audit.unwrap();
    assert_eq!((audit.actor, audit.event, audit.user.as_deref()), ("admin", "admin_set_quota", Some("alice")));
    // The server's own reader still loads it, with every SCRAM field intact.
    let store = AccountStore::open(&dir.path().join("accounts")).unwrap();
    let loaded = store.load("alice").unwrap().unwrap();
    assert_eq!(loaded, Account { quota: Some(1 << 30), ..account("alice") });
    // Setting the same value again changes nothing.
    let (reply, _, _) = ok(admin.execute(&req, now()));
    assert!(matches!(reply, Reply::Done { changed: false, .. }));
    // Unlimited and default.
    let unlimited = Request::SetQuota { user: "alice".into(), quota: QuotaSetting::Unlimited };
    ok(admin.execute(&unlimited, now()));
    assert_eq!(store.load("alice").unwrap().unwrap().quota, Some(u64::MAX));
    let default = Request::SetQuota { user: "alice".into(), quota: QuotaSetting::Default };
    ok(admin.execute(&default, now()));
    assert_eq!(store.load("alice").unwrap().unwrap().quota, None);
    let names: Vec<_> = fs::read_dir(dir.path().join("accounts")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(!names.iter().any(|n| n.to_string_lossy().starts_with(".tmp-")), "no temporaries left: {names:?}");
}

#[test]
fn disable_and_enable_toggle_the_field_the_server_reads() {
    let dir = root();
    let admin = Admin::open_offline(dir.path()).unwrap();
    let (_, effect, _) = ok(admin.execute(&Request::Disable { user: "bob".into() }, now()));
    assert_eq!(effect, Some(Effect::Disabled { user: "bob".into() }));
    let text = fs::read_to_string(dir.path().join("accounts/bob.json")).unwrap();
    assert!(text.contains("\"disabled\": true"), "{text}");
    let store = AccountStore::open(&dir.path().join("accounts")).unwrap();
    assert_eq!(store.load("bob").unwrap().unwrap(), Account { disabled: true, ..account("bob") });
    let (reply, _, _) = ok(admin.execute(&Request::Disable { user: "bob".into() }, now()));
    assert!(matches!(reply, Reply::Done { changed: false, .. }));
    let (reply, _, _) = ok(admin.execute(&Request::Enable { user: "bob".into() }, now()));
    assert!(matches!(reply, Reply::Done { changed: true, .. }));
    let text = fs::read_to_string(dir.path().join("accounts/bob.json")).unwrap();
    assert!(!text.contains("disabled"), "{text}");
}

#[test]
fn unknown_and_invalid_users_fail_with_an_audited_reason_and_touch_nothing() {
    let dir = root();
    let admin = Admin::open_offline(dir.path()).unwrap();
    let out = admin.execute(&Request::Disable { user: "zed".into() }, now());
    assert!(matches!(out.result, Err(AdminError::NoSuchUser(_))));
    let audit = out.audit.unwrap();
    assert_eq!((audit.outcome, audit.reason), (crate::audit::Outcome::Fail, Some(ErrorCode::NoSuchUser)));
    for bad in ["../alice", ".secret", "Alice", ""] {
        let out = admin.execute(&Request::Delete { user: bad.into(), keep_home: false }, now());
        assert!(matches!(out.result, Err(AdminError::InvalidUser(_))), "{bad}");
    }
    assert!(fs::exists(dir.path().join("accounts/alice.json")).unwrap());
    assert!(fs::exists(dir.path().join("home/alice/a.bin")).unwrap());
}

#[test]
fn delete_removes_the_record_the_home_and_the_users_reset_tokens() {
    let dir = root();
    let admin = Admin::open_offline(dir.path()).unwrap();
    let (reset, _, _) = ok(admin.execute(&Request::Reset { user: "alice".into(), ttl_secs: None }, now()));
    let (reply, effect, audit) = ok(admin.execute(&Request::Delete { user: "alice".into(), keep_home: false }, now()));
    assert_eq!(effect, Some(Effect::Deleted { user: "alice".into() }));
    assert_eq!(audit.unwrap().keep_home, Some(false));
    let Reply::Done { message, .. } = reply else { panic!() };
    assert!(message.contains("1 reset token(s) revoked") && message.contains("home removed"), "{message}");
    assert!(!fs::exists(dir.path().join("accounts/alice.json")).unwrap());
    assert!(!fs::exists(dir.path().join("home/alice")).unwrap());
    let err = admin.tokens().consume_token(&token_of(&reset), TokenKind::Reset, Some("alice"), now()).unwrap_err();
    assert!(matches!(err, TokenError::Invalid));
}

#[test]
fn delete_with_keep_home_moves_the_files_aside() {
    let dir = root();
    let admin = Admin::open_offline(dir.path()).unwrap();
    ok(admin.execute(&Request::Delete { user: "alice".into(), keep_home: true }, now()));
    assert!(!fs::exists(dir.path().join("home/alice")).unwrap(), "a new alice must not inherit the files");
    let aside = dir.path().join("home/.deleted-alice-20261123T070000Z");
    assert_eq!(fs::read(aside.join("docs/b.txt")).unwrap().len(), 234);
}

#[test]
fn a_reset_token_is_stored_only_as_a_hash_and_works_once_for_its_user() {
    let dir = root();
    let admin = Admin::open_offline(dir.path()).unwrap();
    let (reply, effect, audit) = ok(admin.execute(&Request::Reset { user: "bob".into(), ttl_secs: None }, now()));
    assert!(effect.is_none());
    let Reply::Token { token, kind, expires, id, .. } = &reply else { panic!() };
    assert_eq!((*kind, token.len()), (TokenKind::Reset, 32));
    assert_eq!(expires, "2026-11-30T07:00:00Z", "7 days by default");
    let audit = audit.unwrap();
    assert_eq!(audit.token_id.as_deref(), Some(id.as_str()));
    let audit_json = serde_json::to_string(&audit).unwrap();
    assert!(audit_json.contains("\"actor\":\"admin\"") && !audit_json.contains(token.as_str()), "{audit_json}");
    // Nothing on disk contains the token.
    for entry in fs::read_dir(dir.path().join("accounts/.tokens")).unwrap() {
        let entry = entry.unwrap();
        assert!(!entry.file_name().to_string_lossy().contains(token.as_str()));
        assert!(!fs::read_to_string(entry.path()).unwrap().contains(token.as_str()));
    }
    let tokens = admin.tokens();
    assert!(matches!(tokens.consume_token(token, TokenKind::Reset, Some("alice"), now()), Err(TokenError::Invalid)));
    assert!(matches!(tokens.consume_token(token, TokenKind::Invite, None, now()), Err(TokenError::Invalid)));
    let grant = tokens.consume_token(&token.to_uppercase(), TokenKind::Reset, Some("bob"), now()).unwrap();
    assert_eq!((grant.kind, grant.user.as_deref(), grant.id.as_str()), (TokenKind::Reset, Some("bob"), id.as_str()));
    assert!(matches!(tokens.consume_token(token, TokenKind::Reset, Some("bob"), now()), Err(TokenError::Invalid)));
    assert!(matches!(
        tokens.consume_token("not-a-token", TokenKind::Reset, Some("bob"), now()),
        Err(TokenError::Invalid)
    ));
}

#[test]
fn reset_of_an_unknown_user_issues_nothing() {
    let dir = root();
    let admin = Admin::open_offline(dir.path()).unwrap();
    let out = admin.execute(&Request::Reset { user: "zed".into(), ttl_secs: None }, now());
    assert!(matches!(out.result, Err(AdminError::NoSuchUser(_))));
    assert!(admin.tokens().outstanding().unwrap().is_empty());
}

#[test]
fn an_invitation_carries_its_quota_and_expires() {
    let dir = root();
    let admin = Admin::open_offline(dir.path()).unwrap();
    let quota = Some(QuotaSetting::Bytes(5_000_000));
    let (reply, _, audit) = ok(admin.execute(&Request::Invite { quota, ttl_secs: Some(3600) }, now()));
    assert_eq!(audit.unwrap().quota, quota);
    let token = token_of(&reply);
    let grant = admin.tokens().consume_token(&token, TokenKind::Invite, Some("newbie"), now()).unwrap();
    assert_eq!(grant.quota, quota);
    let (reply, _, _) = ok(admin.execute(&Request::Invite { quota: None, ttl_secs: Some(3600) }, now()));
    let late = now().checked_add(SignedDuration::from_secs(3600)).unwrap();
    let err = admin.tokens().consume_token(&token_of(&reply), TokenKind::Invite, None, late).unwrap_err();
    assert!(matches!(err, TokenError::Expired));
    assert!(admin.tokens().outstanding().unwrap().is_empty(), "an expired token is deleted when tried");
}

#[test]
fn expired_tokens_are_swept_when_new_ones_are_issued() {
    let dir = root();
    let admin = Admin::open_offline(dir.path()).unwrap();
    ok(admin.execute(&Request::Invite { quota: None, ttl_secs: Some(60) }, now()));
    assert_eq!(admin.tokens().outstanding().unwrap().len(), 1);
    let later = now().checked_add(SignedDuration::from_secs(61)).unwrap();
    ok(admin.execute(&Request::Invite { quota: None, ttl_secs: Some(60) }, later));
    assert_eq!(admin.tokens().outstanding().unwrap().len(), 1);
}

#[test]
fn a_released_or_dropped_claim_leaves_the_token_usable_and_a_committed_one_spends_it() {
    let dir = root();
    let admin = Admin::open_offline(dir.path()).unwrap();
    let token = token_of(&ok(admin.execute(&Request::Invite { quota: None, ttl_secs: None }, now())).0);
    let tokens = admin.tokens();
    let claim = tokens.claim(&token, TokenKind::Invite, Some("x"), now()).unwrap();
    assert!(
        matches!(tokens.claim(&token, TokenKind::Invite, Some("y"), now()), Err(TokenError::Invalid)),
        "claimed: not usable twice"
    );
    claim.release().unwrap();
    drop(tokens.claim(&token, TokenKind::Invite, Some("x"), now()).unwrap());
    let claim = tokens.claim(&token, TokenKind::Invite, Some("x"), now()).unwrap();
    claim.commit().unwrap();
    assert!(matches!(tokens.claim(&token, TokenKind::Invite, Some("x"), now()), Err(TokenError::Invalid)));
}

#[test]
fn a_claim_left_by_a_crash_is_spent_at_open() {
    let dir = root();
    let admin = Admin::open_offline(dir.path()).unwrap();
    let token = token_of(&ok(admin.execute(&Request::Invite { quota: None, ttl_secs: None }, now())).0);
    let claim = admin.tokens().claim(&token, TokenKind::Invite, None, now()).unwrap();
    std::mem::forget(claim); // a crash: neither commit nor release ran
    let reopened = TokenStore::open(&dir.path().join("accounts")).unwrap();
    assert!(matches!(reopened.consume_token(&token, TokenKind::Invite, None, now()), Err(TokenError::Invalid)));
    assert_eq!(fs::read_dir(dir.path().join("accounts/.tokens")).unwrap().count(), 0);
}

#[test]
fn concurrent_consumers_of_one_token_have_exactly_one_winner() {
    let dir = root();
    let admin = Admin::open_offline(dir.path()).unwrap();
    for _ in 0..20 {
        let token = token_of(&ok(admin.execute(&Request::Invite { quota: None, ttl_secs: None }, now())).0);
        // Each thread has its own store, as separate processes would.
        let stores: Vec<_> = (0..4).map(|_| TokenStore::open(&dir.path().join("accounts")).unwrap()).collect();
        let winners: usize = std::thread::scope(|s| {
            let handles: Vec<_> = stores
                .iter()
                .map(|store| {
                    let token = token.clone();
                    s.spawn(move || store.consume_token(&token, TokenKind::Invite, None, now()).is_ok() as usize)
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(winners, 1);
    }
}

#[test]
fn offline_administration_is_refused_while_the_root_is_locked() {
    let dir = root();
    let _server = crate::rootlock::RootLock::acquire(dir.path(), "server").unwrap();
    let err = Admin::open_offline(dir.path()).unwrap_err();
    assert!(matches!(err, AdminError::Locked(_)));
    assert!(err.to_string().contains("pid"), "{err}");
    Admin::for_server(dir.path()).unwrap();
}

#[test]
fn a_directory_without_accounts_is_not_taken_for_a_data_root() {
    let dir = tempfile::tempdir().unwrap();
    let err = Admin::open_offline(dir.path()).unwrap_err();
    assert!(err.to_string().contains("no accounts folder"), "{err}");
}

#[test]
fn requests_and_replies_are_plain_json_for_the_control_socket() {
    let req = Request::SetQuota { user: "alice".into(), quota: QuotaSetting::Bytes(10) };
    let text = serde_json::to_string(&req).unwrap();
    assert_eq!(text, r#"{"op":"set_quota","user":"alice","quota":{"bytes":10}}"#);
    assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), req);
    let list: Request = serde_json::from_str(r#"{"op":"list","usage":false}"#).unwrap();
    assert_eq!(list, Request::List { usage: false });
    let reply = Reply::Done { user: "a".into(), changed: true, message: "m".into() };
    assert_eq!(serde_json::to_string(&reply).unwrap(), r#"{"reply":"done","user":"a","changed":true,"message":"m"}"#);
}

#[test]
fn quota_settings_parse_from_the_command_line() {
    assert_eq!(QuotaSetting::parse("default"), Ok(QuotaSetting::Default));
    assert_eq!(QuotaSetting::parse("unlimited"), Ok(QuotaSetting::Unlimited));
    assert_eq!(QuotaSetting::parse("1GiB"), Ok(QuotaSetting::Bytes(1 << 30)));
    assert!(QuotaSetting::parse("lots").is_err());
    assert_eq!(QuotaSetting::Bytes(1 << 30).to_string(), "1.0 GiB");
}

#[derive(Debug, clap::Parser)]
struct Top {
    #[command(subcommand)]
    command: TopCommand,
}

#[derive(Debug, clap::Subcommand)]
enum TopCommand {
    Accounts(cli::AccountsArgs),
}

fn parse(args: &[&str]) -> Result<cli::AccountsArgs, clap::Error> {
    use clap::Parser;
    let TopCommand::Accounts(a) = Top::try_parse_from(["mioftpd", "accounts"].iter().chain(args))?.command;
    Ok(a)
}

#[test]
fn the_command_line_maps_to_plain_requests() {
    let a = parse(&["set-quota", "alice", "1GiB", "--root", "/srv/x"]).unwrap();
    assert_eq!(a.data_root().unwrap(), std::path::PathBuf::from("/srv/x"));
    assert_eq!(a.command.request(), Request::SetQuota { user: "alice".into(), quota: QuotaSetting::Bytes(1 << 30) });
    let a = parse(&["--json", "invite", "--quota", "unlimited", "--valid-hours", "2"]).unwrap();
    assert!(a.json);
    assert_eq!(a.command.request(), Request::Invite { quota: Some(QuotaSetting::Unlimited), ttl_secs: Some(7200) });
    assert_eq!(
        parse(&["delete", "bob", "--keep-home"]).unwrap().command.request(),
        Request::Delete { user: "bob".into(), keep_home: true }
    );
    assert_eq!(parse(&["list", "--no-usage"]).unwrap().command.request(), Request::List { usage: false });
    assert_eq!(
        parse(&["reset", "bob"]).unwrap().command.request(),
        Request::Reset { user: "bob".into(), ttl_secs: Some(168 * 3600) }
    );
    assert!(parse(&["set-quota", "alice", "lots"]).is_err());
    assert!(parse(&["frobnicate"]).is_err());
}

#[test]
fn a_token_goes_to_stdout_alone_and_a_note_to_stderr() {
    let dir = root();
    let admin = Admin::open_offline(dir.path()).unwrap();
    let outcome = admin.execute(&Request::Reset { user: "bob".into(), ttl_secs: None }, now());
    let token = token_of(outcome.result.as_ref().unwrap());
    let (code, out, err) = cli::render(&outcome, false);
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    assert_eq!(out, format!("{token}\n"));
    assert!(err.contains("shown once") && !err.contains(&token), "{err}");
    let list = admin.execute(&Request::List { usage: true }, now());
    let (_, out, _) = cli::render(&list, false);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("USER") && lines[1].starts_with("alice") && lines[1].contains("1.2 KiB"), "{out}");
    let failed = admin.execute(&Request::Enable { user: "zed".into() }, now());
    let (code, out, err) = cli::render(&failed, true);
    assert_eq!((code, out.as_str()), (std::process::ExitCode::FAILURE, ""));
    assert!(err.contains("no such user: zed"), "{err}");
}
