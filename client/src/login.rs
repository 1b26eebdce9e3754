//! Starting a session: everything the user must type is asked first, and
//! only then does the client connect, so a slow typist never meets the
//! server's handshake deadline. Registering asks the server whether the name
//! is free (`check_user`) on a short connection of its own, then asks for
//! the password twice, then connects again to register and log in.

use crate::cli::{self, Args};
use crate::{format, input};
use mioftp_client::{Client, ClientError, Endpoint, Options, Result, keyfile};

/// Where to connect, with the key read (a missing key fails before any
/// question is asked).
pub fn endpoint(args: &Args) -> Result<Endpoint> {
    let key = keyfile::load(args.key_file.as_deref())?;
    Ok(Endpoint::new(&args.server, &key, Options::default()))
}

/// Non-interactive login with `--user` and the password from the
/// environment, stdin or (on a terminal) a hidden prompt.
pub fn scripted(args: &Args) -> Result<Client> {
    let user = username(cli::require_user(args)?)?;
    let endpoint = endpoint(args)?;
    let password = input::password(args, "Password: ")?;
    let mut client = Client::open(endpoint)?;
    client.login(&user, &password)?;
    Ok(client)
}

/// `mioftp --user NAME register [--token TOKEN]`: registers and ends. It
/// does not log in, so it neither fails on nor counts toward the login
/// throttle. With an invitation token it creates the account; with a reset
/// token from the administrator it sets NAME's new password.
pub fn register_scripted(args: &Args) -> Result<()> {
    let token = register_token(args.command.get(1..).unwrap_or_default())?;
    let user = username(cli::require_user(args)?)?;
    let endpoint = endpoint(args)?;
    let password = input::new_password(args, None)?;
    let mut client = Client::open(endpoint)?;
    let reply = client.register_with_token(&user, &password, token.as_deref())?;
    if reply.reset {
        eprintln!("new password set for {user}");
    } else {
        eprintln!("registered {user}");
    }
    client.exit()
}

/// The token of `register [--token TOKEN]` (also `--token=TOKEN`).
fn register_token(words: &[String]) -> Result<Option<String>> {
    match words {
        [] => return Ok(None),
        [flag, token] if flag == "--token" => return Ok(Some(token.clone())),
        [one] => {
            if let Some(token) = one.strip_prefix("--token=") {
                return Ok(Some(token.to_owned()));
            }
        }
        _ => {}
    }
    Err(ClientError::Usage("usage: mioftp --user NAME register [--token TOKEN]".into()))
}

/// The interactive start: register or log in, as often as it takes. Returns
/// a logged-in client, or `None` when the user quits.
pub fn interactive(endpoint: &Endpoint, args: &Args) -> Result<Option<Client>> {
    println!("mioftp: server {}", endpoint.addr);
    loop {
        let Some(choice) = input::prompt_line("[r]egister, [l]ogin or [q]uit? ")? else {
            return Ok(None);
        };
        let result = match choice.trim() {
            "r" | "register" => register_flow(endpoint, args),
            "l" | "login" => login_flow(endpoint, args),
            "q" | "quit" | "exit" => return Ok(None),
            "" => continue,
            other => {
                println!("Please answer r, l or q (not \"{other}\").");
                continue;
            }
        };
        match result {
            Ok(client) => return Ok(Some(client)),
            // A refusal (taken name, wrong password) lets the user try
            // again; a connection that cannot be made ends the program.
            Err(e @ (ClientError::Server(_) | ClientError::Usage(_))) => println!("{}", format::name(&e.to_string())),
            Err(e) => return Err(e),
        }
    }
}

fn login_flow(endpoint: &Endpoint, args: &Args) -> Result<Client> {
    let user = ask_user(args)?;
    let password = input::password(args, "Password: ")?;
    let mut client = Client::open(endpoint.clone())?;
    println!("Connected to {}.", format::name(&client.hello().server));
    if let Err(e) = client.login(&user, &password) {
        let _ = client.exit(); // we are leaving this connection either way
        return Err(e);
    }
    Ok(client)
}

fn register_flow(endpoint: &Endpoint, args: &Args) -> Result<Client> {
    let user = ask_user(args)?;
    let mut probe = Client::open(endpoint.clone())?;
    let available = probe.check_user(&user);
    let hello = probe.hello().clone();
    let _ = probe.exit(); // the answer is in; the password comes next, offline
    if !available? {
        return Err(ClientError::Usage(format!("the username \"{user}\" is already taken; choose another")));
    }
    let password = input::new_password(args, Some(hello.min_password_len))?;
    let mut client = Client::open(endpoint.clone())?;
    println!(
        "Connected to {}. Deriving keys ({} PBKDF2 iterations)...",
        format::name(&client.hello().server),
        hello.min_iterations
    );
    client.register(&user, &password)?;
    println!("Registered {user}. Logging in...");
    client.login(&user, &password)?;
    Ok(client)
}

fn ask_user(args: &Args) -> Result<String> {
    if let Some(u) = &args.user {
        return username(u.clone());
    }
    let name = input::prompt_line("Username: ")?.ok_or_else(|| ClientError::Usage("no username".into()))?;
    username(name.trim().to_owned())
}

/// A username that follows the rule, or why not (before anything is sent).
fn username(user: String) -> Result<String> {
    mioftp_proto::check_username(&user).map_err(ClientError::Usage)?;
    Ok(user)
}
