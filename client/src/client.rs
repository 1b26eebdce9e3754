//! The high-level client: connect and pass the connection check, register,
//! log in with SCRAM (running the slow KDF here, never on the server), log out.

use crate::connection::Connection;
use crate::error::{ClientError, Result};
use mioftp_proto::messages::ServerFrame;
use mioftp_proto::messages::{
    Bye, Empty, Hello, KDF_NAME, LoggedIn, LoginChallenge, Notice, PROTOCOL_VERSION, Registered, UserCheck,
};
use mioftp_proto::scram::{self, ClientKeys, Exchange, Key};
use mioftp_proto::{Request, check_username};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Refuse iteration counts above this from a server: a hostile server could
/// otherwise make the client spin for hours.
pub const MAX_CLIENT_ITERATIONS: u32 = scram::MAX_ITERATIONS;

/// The home folder, where every session starts.
const ROOT: &str = "/";

/// Connection options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Read/write timeout on the socket; `None` waits forever.
    pub io_timeout: Option<Duration>,
    pub connect_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options { io_timeout: Some(Duration::from_secs(120)), connect_timeout: Duration::from_secs(10) }
    }
}

/// Where and how to connect: what it takes to open another connection
/// without asking the user anything. The pre-shared key is kept (it is the
/// contents of a file the user pointed at, not something they typed).
#[derive(Clone)]
pub struct Endpoint {
    pub addr: String,
    key: Vec<u8>,
    pub opts: Options,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint").field("addr", &self.addr).field("opts", &self.opts).finish_non_exhaustive()
    }
}

impl Endpoint {
    pub fn new(addr: &str, key: &[u8], opts: Options) -> Endpoint {
        Endpoint { addr: addr.to_owned(), key: key.to_vec(), opts }
    }

    /// The one place a connection is made: TCP connect, then the connection
    /// check. Everything else (login, reconnects) goes through here, so a
    /// layer such as TLS can be added between the socket and [`Connection`]
    /// in this one function.
    pub fn open(&self) -> Result<(Connection, Hello)> {
        let (addr, opts) = (self.addr.as_str(), &self.opts);
        let connect_err = |source| ClientError::Connect { addr: addr.to_owned(), source };
        let mut last = None;
        let mut stream = None;
        for sa in addr.to_socket_addrs().map_err(connect_err)? {
            match TcpStream::connect_timeout(&sa, opts.connect_timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = stream.ok_or_else(|| {
            connect_err(last.unwrap_or_else(|| std::io::Error::other("the address resolved to nothing")))
        })?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(opts.io_timeout)?;
        stream.set_write_timeout(opts.io_timeout)?;
        let mut conn = Connection::new(stream)?;
        let hello = check(&mut conn, &self.key)?;
        Ok((conn, hello))
    }
}

/// What `register` remembers for the login that follows it.
struct Registration {
    user: String,
    password_digest: Key,
    salt: Vec<u8>,
    iterations: u32,
    salted: Key,
}

/// What logging in again needs instead of the password: the SCRAM keys
/// derived from it, valid with the salt and iteration count they came from.
/// The password itself is never kept.
#[derive(Clone)]
pub(crate) struct LoginKeys {
    pub user: String,
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub keys: ClientKeys,
}

/// A connected, key-checked client.
pub struct Client {
    pub conn: Connection,
    hello: Hello,
    user: Option<String>,
    /// The remote current directory as the server last reported it (`/` at
    /// login). Kept so a download can name its partial before the reply.
    pub(crate) cwd: String,
    /// SaltedPassword from the last `register`, so the login that follows it
    /// does not run the slow KDF a second time. Matched on user, password
    /// digest, salt and iterations.
    registered: Option<Registration>,
    /// How this connection was made, for [`Client::reconnect`]; `None` for
    /// a client built on a connection made elsewhere.
    pub(crate) endpoint: Option<Endpoint>,
    /// The keys of the last successful login, for [`Client::reconnect`].
    pub(crate) login_keys: Option<LoginKeys>,
    /// The remote path (absolute) of an upload cut off part-way, whose next
    /// `put` may find the server still busy with the old one for a moment.
    pub(crate) cut_upload: Option<String>,
}

/// Checks a new password against a server's policy (`min_password_len` of
/// its hello): the server never sees passwords, so the client enforces it.
pub fn check_password(min_len: u32, password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(ClientError::Usage("the password must not be empty".into()));
    }
    if password.chars().count() < min_len as usize {
        return Err(ClientError::Usage(format!("the password must be at least {min_len} characters")));
    }
    Ok(())
}

/// Runs the connection check over an established connection: reads the
/// hello and answers its challenge with the key.
fn check(conn: &mut Connection, key: &[u8]) -> Result<Hello> {
    let (frame, _) = conn.recv()?;
    let hello = match frame {
        ServerFrame::Notice(Notice::Hello(h)) => h,
        // e.g. server_busy: the server refused us before the hello.
        ServerFrame::Reply(Err(e)) => return Err(ClientError::Server(e)),
        _ => {
            return Err(ClientError::Protocol("the server did not start with a hello".into()));
        }
    };
    if hello.protocol != PROTOCOL_VERSION {
        return Err(ClientError::Protocol(format!(
            "server speaks protocol {}, this client speaks {PROTOCOL_VERSION}",
            hello.protocol
        )));
    }
    if hello.kdf != KDF_NAME {
        return Err(ClientError::Protocol(format!("unsupported KDF \"{}\"", hello.kdf)));
    }
    let challenge =
        scram::unb64(&hello.challenge).ok_or_else(|| ClientError::Protocol("hello challenge is not base64".into()))?;
    let mac = scram::hmac(key, &challenge);
    let _: Empty = conn.call(&Request::Auth { hmac: scram::b64(&mac) })?;
    Ok(hello)
}

impl Client {
    /// Connects, reads the hello, and answers its challenge with the key.
    pub fn connect(addr: &str, key: &[u8]) -> Result<Client> {
        Client::connect_with(addr, key, &Options::default())
    }

    pub fn connect_with(addr: &str, key: &[u8], opts: &Options) -> Result<Client> {
        Client::open(Endpoint::new(addr, key, opts.clone()))
    }

    /// Connects to `endpoint` (see [`Endpoint::open`]); the client can later
    /// [`reconnect`](Client::reconnect) to it.
    pub fn open(endpoint: Endpoint) -> Result<Client> {
        let (conn, hello) = endpoint.open()?;
        let mut client = Client::new(conn, hello);
        client.endpoint = Some(endpoint);
        Ok(client)
    }

    /// Runs the connection check over an established connection.
    pub fn handshake(mut conn: Connection, key: &[u8]) -> Result<Client> {
        let hello = check(&mut conn, key)?;
        Ok(Client::new(conn, hello))
    }

    fn new(conn: Connection, hello: Hello) -> Client {
        Client {
            conn,
            hello,
            user: None,
            cwd: ROOT.to_owned(),
            registered: None,
            endpoint: None,
            login_keys: None,
            cut_upload: None,
        }
    }

    /// A new connection's hello replaces the old one's.
    pub(crate) fn replace_hello(&mut self, hello: Hello) {
        self.hello = hello;
    }

    /// Forgets who was logged in on the old connection (before a re-login).
    pub(crate) fn forget_login(&mut self) {
        self.user = None;
        self.cwd = ROOT.to_owned();
    }

    /// The server's hello (version, KDF policy).
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The logged-in user.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The remote current directory (as of the last `cd` or `pwd`).
    pub fn cwd(&self) -> &str {
        &self.cwd
    }

    /// Checks a new password against the server's announced policy.
    pub fn check_password(&self, password: &str) -> Result<()> {
        check_password(self.hello.min_password_len, password)
    }

    /// Creates an account. The password stays here: only a salt, the
    /// iteration count and the derived StoredKey and ServerKey are sent.
    pub fn register(&mut self, user: &str, password: &str) -> Result<()> {
        self.register_with_token(user, password, None).map(|_| ())
    }

    /// [`register`](Client::register) with a one-time token from the
    /// server's administrator: an invitation (a new account), or a reset
    /// token (a new password for `user`; the reply's `reset` is true).
    pub fn register_with_token(&mut self, user: &str, password: &str, token: Option<&str>) -> Result<Registered> {
        check_username(user).map_err(ClientError::Usage)?;
        self.check_password(password)?;
        let mut salt = [0u8; scram::SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| ClientError::Usage(format!("no randomness: {e}")))?;
        let iterations = self.hello.min_iterations.max(1);
        let salted = scram::salted_password(password.as_bytes(), &salt, iterations);
        let reply = self.register_keys_with(user, &salt, iterations, &ClientKeys::from_salted(&salted), token)?;
        self.registered = Some(Registration {
            user: user.to_owned(),
            password_digest: scram::sha256(password.as_bytes()),
            salt: salt.to_vec(),
            iterations,
            salted,
        });
        Ok(reply)
    }

    /// Registers with keys derived elsewhere (benchmarks reuse them).
    pub fn register_keys(&mut self, user: &str, salt: &[u8], iterations: u32, keys: &ClientKeys) -> Result<()> {
        self.register_keys_with(user, salt, iterations, keys, None).map(|_| ())
    }

    fn register_keys_with(
        &mut self,
        user: &str,
        salt: &[u8],
        iterations: u32,
        keys: &ClientKeys,
        token: Option<&str>,
    ) -> Result<Registered> {
        self.conn.call(&Request::Register {
            user: user.to_owned(),
            salt: scram::b64(salt),
            iterations,
            stored_key: scram::b64(&keys.stored_key),
            server_key: scram::b64(&keys.server_key),
            token: token.map(str::to_owned),
        })
    }

    /// Whether `user` is free to register (`check_user`; the server limits
    /// how often an address may ask).
    pub fn check_user(&mut self, user: &str) -> Result<bool> {
        check_username(user).map_err(ClientError::Usage)?;
        let reply: UserCheck = self.conn.call(&Request::CheckUser { user: user.to_owned() })?;
        Ok(reply.available)
    }

    /// Logs in with a password, running PBKDF2 locally.
    pub fn login(&mut self, user: &str, password: &str) -> Result<()> {
        let cached = self.registered.take();
        self.login_with(user, |salt, iterations| match cached {
            Some(r)
                if r.user == user
                    && r.password_digest == scram::sha256(password.as_bytes())
                    && r.salt == salt
                    && r.iterations == iterations =>
            {
                r.salted
            }
            _ => scram::salted_password(password.as_bytes(), salt, iterations),
        })
    }

    /// Logs in, asking `derive` for SaltedPassword given the salt and
    /// iteration count (so a caller may cache it). Verifies the server's
    /// signature: authentication is mutual.
    pub fn login_with(&mut self, user: &str, derive: impl FnOnce(&[u8], u32) -> Key) -> Result<()> {
        self.login_keys_with(user, |salt, iterations| Ok(ClientKeys::from_salted(&derive(salt, iterations))))
    }

    /// Logs in with the SCRAM keys `keys` gives for the salt and iteration
    /// count (a re-login passes the kept ones). On success the keys are kept
    /// for [`Client::reconnect`].
    pub(crate) fn login_keys_with(
        &mut self,
        user: &str,
        keys: impl FnOnce(&[u8], u32) -> Result<ClientKeys>,
    ) -> Result<()> {
        check_username(user).map_err(ClientError::Usage)?;
        let client_nonce = scram::new_nonce().map_err(|e| ClientError::Usage(format!("no randomness: {e}")))?;
        let challenge: LoginChallenge =
            self.conn.call(&Request::Login { user: user.to_owned(), nonce: client_nonce.clone() })?;
        if !challenge.nonce.starts_with(&client_nonce)
            || challenge.nonce.len() <= client_nonce.len()
            || !scram::valid_nonce(&challenge.nonce)
        {
            return Err(ClientError::Protocol("the server's nonce does not extend ours".into()));
        }
        if challenge.iterations == 0 || challenge.iterations > MAX_CLIENT_ITERATIONS {
            return Err(ClientError::Protocol(format!("unreasonable iteration count {}", challenge.iterations)));
        }
        let salt = scram::unb64(&challenge.salt).ok_or_else(|| ClientError::Protocol("salt is not base64".into()))?;
        let keys = keys(&salt, challenge.iterations)?;
        let exchange = Exchange {
            user,
            client_nonce: &client_nonce,
            nonce: &challenge.nonce,
            salt: &salt,
            iterations: challenge.iterations,
        };
        let auth_message = exchange.auth_message();
        let proof = keys.proof(&auth_message);
        let done: LoggedIn = self.conn.call(&Request::LoginProof { proof: scram::b64(&proof) })?;
        let signature = scram::unb64(&done.server_signature).unwrap_or_default();
        if !keys.verify_server(&auth_message, &signature) {
            return Err(ClientError::ServerAuth);
        }
        self.user = Some(user.to_owned());
        self.cwd = ROOT.to_owned();
        self.login_keys = Some(LoginKeys { user: user.to_owned(), salt, iterations: challenge.iterations, keys });
        Ok(())
    }

    pub fn logout(&mut self) -> Result<()> {
        let _: Empty = self.conn.call(&Request::Logout)?;
        self.user = None;
        self.login_keys = None;
        self.cwd = ROOT.to_owned();
        Ok(())
    }

    pub fn noop(&mut self) -> Result<()> {
        let _: Empty = self.conn.call(&Request::Noop)?;
        Ok(())
    }

    /// Says goodbye; the server closes the connection after its reply.
    pub fn exit(mut self) -> Result<()> {
        let _: Bye = self.conn.call(&Request::Exit)?;
        Ok(())
    }
}
