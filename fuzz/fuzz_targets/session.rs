//! libFuzzer entry point for the `session` target; the harness is
//! `mioftp_fuzz::session` (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mioftp_fuzz::session::run(data, mioftp_fuzz::session::Start::Hello));
