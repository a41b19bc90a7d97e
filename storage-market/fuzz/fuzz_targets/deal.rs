//! Any bytes as a `/sherd/deal/1` message, as a provider reads a request
//! and a client reads a response (the first byte says which): refused
//! with a reason, or a message whose encoding is exactly those bytes (one
//! encoding per value). Never a panic, never an allocation beyond the
//! frame's limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sherd_market::wire::{self, DealRequest, DealResponse, MAX_DEAL_MESSAGE};

fuzz_target!(|data: &[u8]| {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    if which % 2 == 0 {
        if let Ok(request) = wire::decode::<DealRequest>(bytes, MAX_DEAL_MESSAGE) {
            assert_eq!(wire::encode(&request).ok().as_deref(), Some(bytes));
            if let DealRequest::Propose(proposal) = &request {
                let _ = proposal.acceptance_message();
                let _ = proposal.contract_id();
            }
        }
    } else if let Ok(response) = wire::decode::<DealResponse>(bytes, MAX_DEAL_MESSAGE) {
        assert_eq!(wire::encode(&response).ok().as_deref(), Some(bytes));
    }
});
