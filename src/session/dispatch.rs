//! Routing a decoded frame: the connection check first, then each request
//! to its handler by state (see the state table in docs/PROTOCOL.md §2).

use super::{Input, Session, State, auth, download, files, truncate, upload};
use crate::protocol::{ErrorCode, Frame, Request, WireError};
use crate::services::Services;
use std::time::Instant;

impl Session {
    pub(super) fn on_frame(&mut self, frame: Frame, now: Instant, svc: &mut Services) {
        if let State::Handshake { challenge } = self.state {
            return self.on_handshake_frame(frame, &challenge, svc);
        }
        let is_put_data = frame.header.get("op").and_then(|v| v.as_str()) == Some("put_data");
        if frame.body_len > 0 && !(is_put_data && self.user().is_some()) {
            // Only put_data takes a body; drop any other body unread-into-
            // memory so the next frame boundary is found.
            self.input = Input::Discard { remaining: frame.body_len };
            let op = frame.header.get("op").and_then(|v| v.as_str()).unwrap_or("?");
            let msg = if is_put_data {
                format!("put_data needs a logged-in session; {} body bytes discarded", frame.body_len)
            } else {
                format!("request \"{}\" takes no body; {} body bytes discarded", truncate(op), frame.body_len)
            };
            let code = if is_put_data { ErrorCode::NotLoggedIn } else { ErrorCode::UnexpectedBody };
            self.fail(code, msg);
            return;
        }
        let body_len = frame.body_len;
        let request = match Request::from_header(frame.header) {
            Ok(r) => r,
            Err(e) => {
                if body_len > 0 {
                    self.input = Input::Discard { remaining: body_len };
                }
                self.send_error(&e);
                return;
            }
        };
        if let Request::PutData = request {
            if self.user().is_none() {
                return self.fail(ErrorCode::NotLoggedIn, "put_data needs a logged-in session");
            }
            return upload::put_data(self, body_len, now, svc);
        }
        self.dispatch(request, now, svc);
    }

    /// Before the connection check only a well-formed `auth` is accepted;
    /// anything else (another op, a malformed request, a body) gets
    /// `handshake_required` and the connection is closed.
    fn on_handshake_frame(&mut self, frame: Frame, challenge: &[u8; 32], svc: &mut Services) {
        let op = frame.header.get("op").and_then(|v| v.as_str()).map(truncate);
        let request = (frame.body_len == 0).then(|| Request::from_header(frame.header));
        match request {
            Some(Ok(Request::Auth { hmac })) => auth::check_key(self, challenge, &hmac, svc),
            _ => {
                let what = op.map_or_else(|| "a request".to_owned(), |op| format!("\"{op}\""));
                self.fail(
                    ErrorCode::HandshakeRequired,
                    format!("{what} before the connection check; send \"auth\" first"),
                );
                self.closing = true;
            }
        }
    }

    pub(super) fn dispatch(&mut self, request: Request, now: Instant, svc: &mut Services) {
        if let Some(up) = &self.upload {
            // Mid-upload only the upload's own requests (and exit) are valid.
            let allowed = matches!(request, Request::Put { .. } | Request::PutDone { .. } | Request::Exit);
            if !allowed && !up.is_receiving() {
                let msg = format!("\"{}\" during an upload; send put_data/put_done first", request.op());
                return self.fail(ErrorCode::BadState, msg);
            }
        }
        match request {
            Request::Auth { .. } => self.fail(ErrorCode::BadState, "the connection check is already done"),
            Request::Register { user, salt, iterations, stored_key, server_key } => {
                auth::register(self, &user, &salt, iterations, &stored_key, &server_key, svc)
            }
            Request::Login { user, nonce } => auth::login(self, user, &nonce, now, svc),
            Request::LoginProof { proof } => auth::login_proof(self, &proof, now, svc),
            Request::Logout => auth::logout(self, now, svc),
            Request::Exit => {
                let why = WireError { code: "cancelled".into(), message: "the client exited during the upload".into() };
                upload::interrupted(self, &why, now, svc);
                auth::exit(self, svc)
            }
            Request::Noop => self.send_ok(&crate::protocol::messages::Empty {}),
            other => self.file_request(other, now, svc),
        }
    }

    /// Requests that need a logged-in session (and, for most, known usage).
    fn file_request(&mut self, request: Request, now: Instant, svc: &mut Services) {
        let Some(user) = self.user() else {
            return self.fail(ErrorCode::NotLoggedIn, format!("\"{}\" needs a logged-in session", request.op()));
        };
        let needs_usage = !matches!(request, Request::Pwd | Request::Cd { .. } | Request::Get { .. });
        let usage = svc.users.get(user).map(|u| (u.ready(), u.scan_error.clone()));
        if needs_usage && !usage.as_ref().is_some_and(|(ready, _)| *ready) {
            if let Some((_, Some(why))) = usage {
                let user = user.to_owned();
                // The last scan failed. A new request starts another; one that
                // already waited for the failed scan gets the error.
                let restarted =
                    if self.resuming { Err(why) } else { svc.users.restart_scan(&user).map_err(|e| e.to_string()) };
                if let Err(why) = restarted {
                    let msg = format!("your usage could not be computed ({why}); try again");
                    return self.fail(ErrorCode::Internal, msg);
                }
            }
            // The usage scan is running; the driver resumes us when it ends.
            self.deferred = Some(request);
            return;
        }
        match request {
            Request::Pwd => files::pwd(self, svc),
            Request::Cd { path } => files::cd(self, path, svc),
            Request::Mkdir { path, parents } => files::mkdir(self, path, parents, svc),
            Request::Rm { path, recursive } => files::rm(self, path, recursive, svc),
            Request::Dir { path } => files::dir(self, path, svc),
            Request::Quota => files::quota(self, svc),
            Request::Put { path, length, resume } => upload::put(self, path, length, resume, now, svc),
            Request::PutDone { sha256 } => upload::put_done(self, sha256, now, svc),
            Request::Get { path, offset, if_match } => download::get(self, path, offset, if_match, now, svc),
            other => self.fail(ErrorCode::BadState, format!("\"{}\" is not valid here", other.op())),
        }
    }
}
