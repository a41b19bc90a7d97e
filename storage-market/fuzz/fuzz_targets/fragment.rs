//! Any bytes as a `/sherd/fragment/1` frame: the request a provider reads,
//! or the upload or download answer a client reads (the first byte says
//! which): refused with a reason, or a message whose encoding is exactly
//! those bytes. Never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sherd_market::wire::{
    self, DownloadResponse, FragmentRequest, UploadResponse, MAX_FRAGMENT_REQUEST,
};

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            if let Ok(m) = wire::decode::<FragmentRequest>(bytes, MAX_FRAGMENT_REQUEST) {
                assert_eq!(wire::encode(&m).ok().as_deref(), Some(bytes));
            }
        }
        1 => {
            if let Ok(m) = wire::decode::<UploadResponse>(bytes, MAX_FRAGMENT_REQUEST) {
                assert_eq!(wire::encode(&m).ok().as_deref(), Some(bytes));
            }
        }
        _ => {
            if let Ok(m) = wire::decode::<DownloadResponse>(bytes, MAX_FRAGMENT_REQUEST) {
                assert_eq!(wire::encode(&m).ok().as_deref(), Some(bytes));
            }
        }
    }
});
