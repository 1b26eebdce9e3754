//! libFuzzer entry point for the `frame_decode` target; the harness is
//! `mioftp_fuzz::frame_decode` (see fuzz/README.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mioftp_fuzz::frame_decode::run(data));
