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

/// What the encoder and the decoder share: made for, and reset to, a shape.
trait Shaped: Sized {
    fn make(k: usize, m: usize, shard_size: usize) -> Result<Self, reed_solomon_simd::Error>;
    fn reshape(
        &mut self,
        k: usize,
        m: usize,
        shard_size: usize,
    ) -> Result<(), reed_solomon_simd::Error>;
}

impl Shaped for ReedSolomonEncoder {
    fn make(k: usize, m: usize, shard_size: usize) -> Result<Self, reed_solomon_simd::Error> {
        Self::new(k, m, shard_size)
    }
    fn reshape(
        &mut self,
        k: usize,
        m: usize,
        shard_size: usize,
    ) -> Result<(), reed_solomon_simd::Error> {
        self.reset(k, m, shard_size)
    }
}

impl Shaped for ReedSolomonDecoder {
    fn make(k: usize, m: usize, shard_size: usize) -> Result<Self, reed_solomon_simd::Error> {
        Self::new(k, m, shard_size)
    }
    fn reshape(
        &mut self,
        k: usize,
        m: usize,
        shard_size: usize,
    ) -> Result<(), reed_solomon_simd::Error> {
        self.reset(k, m, shard_size)
    }
}

/// A coder kept across stripes: allocated on first use, reset only when
/// the shape `(k, m, shard_size)` changes (the last stripe is shorter).
struct Cached<C> {
    coder: Option<(C, (usize, usize, usize))>,
}

impl<C> Default for Cached<C> {
    fn default() -> Self {
        Self { coder: None }
    }
}

impl<C: Shaped> Cached<C> {
    fn get(&mut self, k: usize, m: usize, shard_size: usize) -> Result<&mut C, CodecError> {
        let shape = (k, m, shard_size);
        if self.coder.is_none() {
            self.coder = Some((C::make(k, m, shard_size)?, shape));
        }
        let (coder, current) = self
            .coder
            .as_mut()
            .ok_or_else(|| CodecError("no coder".into()))?;
        if *current != shape {
            coder.reshape(k, m, shard_size)?;
            *current = shape;
        }
        Ok(coder)
    }
}

/// Computes the parity shards of stripes, reusing its working memory.
#[derive(Default)]
pub struct StripeEncoder {
    inner: Cached<ReedSolomonEncoder>,
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
        let encoder = self.inner.get(k, m, shard_size)?;
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
    inner: Cached<ReedSolomonDecoder>,
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
        let decoder = self.inner.get(k, m, shard_size)?;
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
