//! Test hooks: faults a test injects into a real node.
//!
//! | variable | effect |
//! |---|---|
//! | `SHERD_TEST_EQUIVOCATE=1` | a networked validator, beside each notarize vote it sends, sends one for another block (the slashing test's Byzantine validator) |
//! | `SHERD_TEST_CRASH_BEFORE_COMMIT=H` | the consensus actor stops with an error right before it commits the finalized block at height `H`, as if the process died there |
//!
//! They exist only in builds with the `test-hooks` feature, which only
//! dev-dependencies turn on: the binary `cargo test` runs has them, the one
//! `cargo build` (and `--release`) makes does not. There [`Hooks`] is an
//! empty type whose checks are constant `false`, the code they guard is
//! not compiled, and the variables are ignored (`testnet/dev.sh` checks
//! this on the release binary). A node started with hooks says so in its
//! log, and `sherd --version` names them.

/// Whether this build has the test hooks.
pub const COMPILED: bool = cfg!(feature = "test-hooks");

/// The faults this node injects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hooks {
    #[cfg(feature = "test-hooks")]
    equivocate: bool,
    #[cfg(feature = "test-hooks")]
    crash_before_commit: Option<u64>,
}

impl Hooks {
    /// The hooks the environment asks for: none without the feature. A
    /// variable set to something it cannot mean is an error, so a test
    /// does not pass because its fault was never injected.
    pub fn from_env() -> anyhow::Result<Self> {
        #[cfg(feature = "test-hooks")]
        {
            let equivocate = match std::env::var("SHERD_TEST_EQUIVOCATE") {
                Ok(v) if v == "1" => true,
                Ok(v) => anyhow::bail!("SHERD_TEST_EQUIVOCATE={v:?}: only 1 turns it on"),
                Err(_) => false,
            };
            let crash_before_commit = match std::env::var("SHERD_TEST_CRASH_BEFORE_COMMIT") {
                Ok(v) => Some(v.parse().map_err(|_| {
                    anyhow::anyhow!("SHERD_TEST_CRASH_BEFORE_COMMIT={v:?}: not a block height")
                })?),
                Err(_) => None,
            };
            Ok(Self {
                equivocate,
                crash_before_commit,
            })
        }
        #[cfg(not(feature = "test-hooks"))]
        Ok(Self::default())
    }

    /// Hooks that stop the actor before committing `height`.
    #[cfg(feature = "test-hooks")]
    pub fn crash_before_commit_at(height: u64) -> Self {
        Self {
            crash_before_commit: Some(height),
            ..Self::default()
        }
    }

    /// Whether this validator signs a conflicting vote beside each own.
    pub fn equivocate(&self) -> bool {
        #[cfg(feature = "test-hooks")]
        return self.equivocate;
        #[cfg(not(feature = "test-hooks"))]
        false
    }

    /// Whether the actor stops before committing block `height`.
    pub fn crash_before_commit(&self, height: u64) -> bool {
        #[cfg(feature = "test-hooks")]
        return self.crash_before_commit == Some(height);
        #[cfg(not(feature = "test-hooks"))]
        {
            let _ = height;
            false
        }
    }

    /// Whether any fault is set (the node warns at start).
    pub fn any(&self) -> bool {
        *self != Self::default()
    }
}

#[cfg(all(test, feature = "test-hooks"))]
mod tests {
    use super::*;

    #[test]
    fn only_the_default_is_quiet() {
        assert!(!Hooks::default().any());
        let crash = Hooks::crash_before_commit_at(3);
        assert!(crash.any());
        assert!(crash.crash_before_commit(3));
        assert!(!crash.crash_before_commit(4));
        assert!(!crash.equivocate());
    }
}
