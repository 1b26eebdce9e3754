//! libFuzzer entry point for the `ftp_line` target; the harness is
//! `mioftp_fuzz::ftp_line` (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mioftp_fuzz::ftp_line::run(data));
