#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ferrosync_fuzz::generalized_time(data));
