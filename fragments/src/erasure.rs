//! Erasure coding of one stripe with `reed-solomon-simd`.

use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

/// The erasure code refused its input; with validated [`crate::Params`] and
/// buffers of the right size this does not happen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("erasure code: {0}")]
pub struct CodecError(String);

impl From<reed_solomon_simd::Error> for CodecError {
    fn from(e: reed_solomon_simd::Error) -> Self {
        Self(e.to_string())
    }
}

/// Computes the parity shards of stripes, reusing its working memory.
#[derive(Default)]
pub struct StripeEncoder {
    inner: Option<(ReedSolomonEncoder, usize, usize, usize)>,
}

impl std::fmt::Debug for StripeEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeEncoder").finish_non_exhaustive()
    }
}

impl StripeEncoder {
    /// An encoder; its working memory is allocated on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// Encodes `data`, `k` shards of `shard_size` bytes back to back, and
    /// calls `parity` with each of the `m` parity shards in order.
    pub fn encode(
        &mut self,
        data: &[u8],
        k: usize,
        m: usize,
        shard_size: usize,
        mut parity: impl FnMut(usize, &[u8]),
    ) -> Result<(), CodecError> {
        if data.len() != k * shard_size {
            return Err(CodecError(format!(
                "a stripe of {k} shards of {shard_size} bytes is {} bytes, got {}",
                k * shard_size,
                data.len()
            )));
        }
        let encoder = match &mut self.inner {
            Some((encoder, ek, em, es)) if (*ek, *em, *es) == (k, m, shard_size) => encoder,
            Some((encoder, ek, em, es)) => {
                encoder.reset(k, m, shard_size)?;
                (*ek, *em, *es) = (k, m, shard_size);
                encoder
            }
            None => {
                &mut self
                    .inner
                    .insert((ReedSolomonEncoder::new(k, m, shard_size)?, k, m, shard_size))
                    .0
            }
        };
        for shard in data.chunks_exact(shard_size) {
            encoder.add_original_shard(shard)?;
        }
        let result = encoder.encode()?;
        for (i, shard) in result.recovery_iter().enumerate() {
            parity(i, shard);
        }
        Ok(())
    }
}

/// Restores missing data shards of stripes, reusing its working memory.
#[derive(Default)]
pub struct StripeDecoder {
    inner: Option<(ReedSolomonDecoder, usize, usize, usize)>,
}

impl std::fmt::Debug for StripeDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StripeDecoder").finish_non_exhaustive()
    }
}

impl StripeDecoder {
    /// A decoder; its working memory is allocated on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// `shards` holds `k + m` slots of `shard_size` bytes; `present[i]` says
    /// which hold a good shard (at least `k` must). Missing data shards are
    /// written into their slots.
    pub fn restore(
        &mut self,
        shards: &mut [u8],
        present: &[bool],
        k: usize,
        m: usize,
        shard_size: usize,
    ) -> Result<(), CodecError> {
        if present[..k].iter().all(|&p| p) {
            return Ok(());
        }
        let decoder = match &mut self.inner {
            Some((decoder, dk, dm, ds)) if (*dk, *dm, *ds) == (k, m, shard_size) => decoder,
            Some((decoder, dk, dm, ds)) => {
                decoder.reset(k, m, shard_size)?;
                (*dk, *dm, *ds) = (k, m, shard_size);
                decoder
            }
            None => {
                &mut self
                    .inner
                    .insert((ReedSolomonDecoder::new(k, m, shard_size)?, k, m, shard_size))
                    .0
            }
        };
        for (i, shard) in shards.chunks_exact(shard_size).enumerate().take(k + m) {
            if !present[i] {
                continue;
            }
            if i < k {
                decoder.add_original_shard(i, shard)?;
            } else {
                decoder.add_recovery_shard(i - k, shard)?;
            }
        }
        let result = decoder.decode()?;
        for (i, shard) in result.restored_original_iter() {
            shards[i * shard_size..(i + 1) * shard_size].copy_from_slice(shard);
        }
        Ok(())
    }
}
