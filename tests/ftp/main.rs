//! The FTP front end over real TCP, against the real server: logins, the
//! control connection's rules, file commands, data connections and
//! transfers, with a plain FTP client of our own (tests/common/ftp.rs); and
//! the real clients: Python's ftplib (the interop runner), curl and lftp.

#[path = "../common/mod.rs"]
mod common;

mod audit;
mod clients;
mod interop;
mod login;
