//! Routing a decoded frame: the connection check first, then each request
//! to its handler by state (see the state table in docs/PROTOCOL.md §2).

use super::{Input, Session, State, auth, check_user, download, files, upload};
use crate::protocol::{ErrorCode, Frame, Op, Refused, Request, WireError};
use crate::services::Services;
use crate::users::Usage;
use std::time::Instant;

impl Session {
    /// A whole frame header arrived. It is decoded into a [`Request`] here,
    /// once; everything after this works on the typed request (or on the
    /// refusal, which knows the op when the header named a known one).
    pub(super) fn on_frame(&mut self, frame: Frame, now: Instant, svc: &mut Services) {
        let Frame { header, body_len } = frame;
        let decoded = Request::from_header(header);
        if let State::Handshake { challenge } = self.state {
            return self.on_handshake_frame(decoded, body_len, &challenge, svc);
        }
        let op = match &decoded {
            Ok(request) => Some(request.op()),
            Err(refused) => refused.op,
        };
        let is_put_data = op == Some(Op::PutData);
        if body_len > 0 && !(is_put_data && self.user().is_some()) {
            // Only put_data takes a body; drop any other body unread-into-
            // memory so the next frame boundary is found.
            self.input = Input::Discard { remaining: body_len };
            let (code, msg) = if is_put_data {
                (ErrorCode::NotLoggedIn, format!("put_data needs a logged-in session; {body_len} body bytes discarded"))
            } else {
                let what = op.map_or_else(|| "a request without a known op".to_owned(), |op| format!("\"{op}\""));
                (ErrorCode::UnexpectedBody, format!("{what} takes no body; {body_len} body bytes discarded"))
            };
            return self.fail(code, msg);
        }
        let request = match decoded {
            Ok(r) => r,
            // No body here: a body was discarded above unless this is
            // put_data, which has no fields and so is never refused.
            Err(refused) => return self.send_error(&refused.error),
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
    fn on_handshake_frame(
        &mut self,
        decoded: Result<Request, Refused>,
        body_len: u64,
        challenge: &[u8; 32],
        svc: &mut Services,
    ) {
        let op = match decoded {
            Ok(Request::Auth { hmac }) if body_len == 0 => return auth::check_key(self, challenge, &hmac, svc),
            Ok(request) => Some(request.op()),
            Err(refused) => refused.op,
        };
        let what = op.map_or_else(|| "a request".to_owned(), |op| format!("\"{op}\""));
        self.fail(ErrorCode::HandshakeRequired, format!("{what} before the connection check; send \"auth\" first"));
        self.closing = true;
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
            Request::CheckUser { user } => check_user::check_user(self, &user, now, svc),
            Request::Register { .. } if self.job.is_some() => {
                // The login's usage scan still runs after a logout; the
                // account write waits for the job slot.
                self.deferred = Some(request);
            }
            Request::Register { user, salt, iterations, stored_key, server_key, token } => {
                let reg = auth::Registration {
                    user: &user,
                    salt: &salt,
                    iterations,
                    stored_key: &stored_key,
                    server_key: &server_key,
                    token: token.as_deref(),
                };
                auth::register(self, &reg, now, svc)
            }
            Request::Login { user, nonce } => auth::login(self, user, &nonce, now, svc),
            Request::LoginProof { proof } => auth::login_proof(self, &proof, now, svc),
            Request::Logout => auth::logout(self, now, svc),
            Request::Exit => {
                let why = WireError::new(ErrorCode::Cancelled, "the client exited during the upload");
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
        let usage = svc.users.get(user).map(|u| u.usage().clone());
        if needs_usage && usage != Some(Usage::Known) {
            match usage {
                // A session's scan runs; the driver resumes us when it ends.
                Some(Usage::Scanning) => {}
                // The scan this request waited for failed: say so (the next
                // request starts another).
                Some(Usage::Failed(why)) if self.resuming => {
                    let msg = format!("your usage could not be computed ({why}); try again");
                    return self.fail(ErrorCode::Internal, msg);
                }
                // Needed, or failed before: this session runs the scan (once
                // its own job slot is free).
                Some(_) => {
                    self.start_usage(now, svc);
                }
                None => return self.fail(ErrorCode::Internal, "usage is not available"),
            }
            self.deferred = Some(request);
            return;
        }
        // One job at a time: a request that may need one waits for the slot.
        let may_need_job = matches!(request, Request::Rm { .. } | Request::PutDone { .. } | Request::Get { .. });
        if may_need_job && self.job.is_some() {
            self.deferred = Some(request);
            return;
        }
        match request {
            Request::Pwd => files::pwd(self, svc),
            Request::Cd { path } => files::cd(self, path, svc),
            Request::Mkdir { path, parents } => files::mkdir(self, path, parents, svc),
            Request::Rm { path, recursive } => files::rm(self, path, recursive, now, svc),
            Request::Dir { path } => files::dir(self, path, svc),
            Request::Quota => files::quota(self, svc),
            Request::Put { path, length, resume } => upload::put(self, path, length, resume, now, svc),
            Request::PutDone { sha256 } => upload::put_done(self, sha256, now, svc),
            Request::Get { path, offset, if_match } => download::get(self, path, offset, if_match, now, svc),
            other => self.fail(ErrorCode::BadState, format!("\"{}\" is not valid here", other.op())),
        }
    }
}
