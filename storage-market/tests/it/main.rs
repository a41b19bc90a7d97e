//! The market without sockets: a client puts objects on in-memory providers
//! that refuse, time out, vanish, break or corrupt uploads and sign
//! garbage, over many seeds, then gets them back from providers that rot or
//! vanish, and repairs lost fragments from holders that vanish or rot onto
//! candidates that misbehave. The real protocol code runs on both sides of
//! an in-memory pipe.

mod golden;
mod pipe;
mod sim;
