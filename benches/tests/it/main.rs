//! Integration tests of the dashboard, linked as one binary.

mod browser;
mod cli;
