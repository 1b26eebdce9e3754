//! SCRAM-SHA-256 (RFC 5802 / RFC 7677) arithmetic, shared by client and server.
//!
//! The messages travel inside JSON frames rather than as SASL strings, but the
//! AuthMessage that both proofs sign is rebuilt here byte for byte as RFC 5802
//! defines it, so the RFC 7677 test vector holds. Only the client ever runs
//! PBKDF2 ([`salted_password`]); the server's share of a login is two HMACs and
//! a hash, which is why a login storm cannot stall the event loop.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Length of every key, proof and signature (SHA-256 output).
pub const KEY_LEN: usize = 32;
/// Salt length, in bytes: what a client generates and the only length
/// `register` accepts (so every account's salt looks like an unknown user's).
pub const SALT_LEN: usize = 16;
/// The most PBKDF2 iterations the protocol allows (§4): `register` refuses
/// more, a server never asks a client to run more at login (a stored account
/// above it is refused), and the reference client refuses a challenge above
/// it, so a hostile peer cannot make the other side spin.
pub const MAX_ITERATIONS: u32 = 10_000_000;
/// Bytes of randomness in a nonce before base64.
pub const NONCE_BYTES: usize = 18;
/// The GS2 header "n,," (no channel binding) in base64, as sent in `c=`.
pub const GS2_HEADER_B64: &str = "biws";

pub type Key = [u8; KEY_LEN];

/// HMAC-SHA-256 of `msg` under `key`.
pub fn hmac(key: &[u8], msg: &[u8]) -> Key {
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(msg);
    mac.finalize().into_bytes().into()
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Key {
    Sha256::digest(data).into()
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// SaltedPassword := Hi(password, salt, i) = PBKDF2-HMAC-SHA-256. Client only.
pub fn salted_password(password: &[u8], salt: &[u8], iterations: u32) -> Key {
    pbkdf2::pbkdf2_hmac_array::<Sha256, KEY_LEN>(password, salt, iterations)
}

/// The keys a client derives from SaltedPassword.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientKeys {
    pub client_key: Key,
    pub stored_key: Key,
    pub server_key: Key,
}

impl std::fmt::Debug for ClientKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientKeys(..)")
    }
}

impl ClientKeys {
    /// ClientKey := HMAC(SaltedPassword, "Client Key"); StoredKey := H(ClientKey);
    /// ServerKey := HMAC(SaltedPassword, "Server Key").
    pub fn from_salted(salted: &Key) -> Self {
        let client_key = hmac(salted, b"Client Key");
        ClientKeys { client_key, stored_key: sha256(&client_key), server_key: hmac(salted, b"Server Key") }
    }

    /// ClientProof := ClientKey XOR HMAC(StoredKey, AuthMessage).
    pub fn proof(&self, auth_message: &str) -> Key {
        xor(&self.client_key, &hmac(&self.stored_key, auth_message.as_bytes()))
    }

    /// Checks the server's signature in constant time (the client's half of
    /// mutual authentication).
    pub fn verify_server(&self, auth_message: &str, signature: &[u8]) -> bool {
        ct_eq(&server_signature(&self.server_key, auth_message), signature)
    }
}

fn xor(a: &Key, b: &Key) -> Key {
    std::array::from_fn(|i| a[i] ^ b[i])
}

/// ServerSignature := HMAC(ServerKey, AuthMessage).
pub fn server_signature(server_key: &Key, auth_message: &str) -> Key {
    hmac(server_key, auth_message.as_bytes())
}

/// Server side: recovers ClientKey from the proof and checks H(ClientKey) ==
/// StoredKey, in constant time.
pub fn verify_client_proof(stored_key: &Key, auth_message: &str, proof: &[u8]) -> bool {
    let Ok(proof) = <&Key>::try_from(proof) else {
        return false;
    };
    let signature = hmac(stored_key, auth_message.as_bytes());
    let client_key = xor(proof, &signature);
    ct_eq(&sha256(&client_key), stored_key)
}

/// A nonce is printable ASCII without ',' (RFC 5802 `printable`), 8..=128 chars.
pub fn valid_nonce(nonce: &str) -> bool {
    (8..=128).contains(&nonce.len()) && nonce.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// A fresh random nonce (base64 of [`NONCE_BYTES`] random bytes, so no ',').
pub fn new_nonce() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; NONCE_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(B64.encode(bytes))
}

/// The three parts of the SCRAM exchange that AuthMessage joins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exchange<'a> {
    pub user: &'a str,
    pub client_nonce: &'a str,
    /// client nonce + server nonce
    pub nonce: &'a str,
    pub salt: &'a [u8],
    pub iterations: u32,
}

impl Exchange<'_> {
    /// client-first-message-bare = "n=" user ",r=" c-nonce
    pub fn client_first_bare(&self) -> String {
        format!("n={},r={}", escape_user(self.user), self.client_nonce)
    }

    /// server-first-message = "r=" nonce ",s=" base64(salt) ",i=" iterations
    pub fn server_first(&self) -> String {
        format!("r={},s={},i={}", self.nonce, B64.encode(self.salt), self.iterations)
    }

    /// client-final-message-without-proof = "c=biws,r=" nonce
    pub fn client_final_without_proof(&self) -> String {
        format!("c={GS2_HEADER_B64},r={}", self.nonce)
    }

    /// AuthMessage := client-first-message-bare "," server-first-message ","
    /// client-final-message-without-proof
    pub fn auth_message(&self) -> String {
        format!("{},{},{}", self.client_first_bare(), self.server_first(), self.client_final_without_proof())
    }
}

/// RFC 5802 saslname escaping. mioftp usernames never contain ',' or '=', but
/// the function is total so the AuthMessage is right for any name.
fn escape_user(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// Base64 (standard alphabet, padded): the encoding of every binary field.
pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

/// Decodes standard padded base64; `None` if malformed.
pub fn unb64(text: &str) -> Option<Vec<u8>> {
    B64.decode(text).ok()
}

/// Decodes base64 that must be exactly a 32-byte key.
pub fn unb64_key(text: &str) -> Option<Key> {
    unb64(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677 section 3: user "user", password "pencil".
    const SALT_B64: &str = "W22ZaJ0SNY7soEsUEjb6gQ==";
    const CLIENT_NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const NONCE: &str = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
    const PROOF_B64: &str = "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_SIG_B64: &str = "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_exchange(salt: &[u8]) -> Exchange<'_> {
        Exchange { user: "user", client_nonce: CLIENT_NONCE, nonce: NONCE, salt, iterations: 4096 }
    }

    #[test]
    fn rfc7677_test_vector_passes() {
        let salt = unb64(SALT_B64).unwrap();
        let ex = rfc_exchange(&salt);
        assert_eq!(ex.client_first_bare(), "n=user,r=rOprNGfwEbeRWgbNEkqO");
        assert_eq!(
            ex.server_first(),
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        assert_eq!(ex.client_final_without_proof(), "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");

        let keys = ClientKeys::from_salted(&salted_password(b"pencil", &salt, 4096));
        let auth = ex.auth_message();
        let proof = keys.proof(&auth);
        assert_eq!(b64(&proof), PROOF_B64);

        // The server holds only StoredKey and ServerKey.
        assert!(verify_client_proof(&keys.stored_key, &auth, &proof));
        let sig = server_signature(&keys.server_key, &auth);
        assert_eq!(b64(&sig), SERVER_SIG_B64);
        assert!(keys.verify_server(&auth, &sig));
    }

    #[test]
    fn a_wrong_password_or_tampered_message_fails() {
        let salt = unb64(SALT_B64).unwrap();
        let ex = rfc_exchange(&salt);
        let auth = ex.auth_message();
        let right = ClientKeys::from_salted(&salted_password(b"pencil", &salt, 4096));
        let wrong = ClientKeys::from_salted(&salted_password(b"pencil!", &salt, 4096));
        assert!(!verify_client_proof(&right.stored_key, &auth, &wrong.proof(&auth)));
        let other = Exchange { nonce: "rOprNGfwEbeRWgbNEkqOxxxx", ..ex };
        assert!(!verify_client_proof(&right.stored_key, &other.auth_message(), &right.proof(&auth)));
        assert!(!verify_client_proof(&right.stored_key, &auth, &[0u8; 31]));
        assert!(!right.verify_server(&auth, &[0u8; 32]));
    }

    #[test]
    fn nonce_rules() {
        assert!(valid_nonce(CLIENT_NONCE));
        assert!(valid_nonce(&new_nonce().unwrap()));
        assert!(!valid_nonce("short"));
        assert!(!valid_nonce("has,comma-inside"));
        assert!(!valid_nonce("has space inside"));
        assert!(!valid_nonce(&"a".repeat(129)));
    }
}
