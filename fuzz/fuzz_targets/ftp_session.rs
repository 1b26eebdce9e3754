//! libFuzzer entry point for the `ftp_session` target; the harness is
//! `mioftp_fuzz::ftp_session` (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mioftp_fuzz::ftp_session::run(data));
