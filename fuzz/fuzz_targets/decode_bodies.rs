//! Any bytes as an init, status or credentials body: a typed result, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let _ = fastn_auth::__fuzz::decode_init(body);
    let _ = fastn_auth::__fuzz::decode_status(body);
    let _ = fastn_auth::__fuzz::decode_credentials(body);
});
