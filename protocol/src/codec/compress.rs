//! gzip compression of frame bodies, and decompression capped at `max_message_size` so that
//! a gzip bomb is an error, not an allocation.

use std::io::{Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::error::CodecError;

/// Compresses `body`, appending the gzip stream to `out`.
pub fn gzip_into(body: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
    let mut enc = GzEncoder::new(out, Compression::fast());
    enc.write_all(body)
        .and_then(|_| enc.try_finish())
        .map_err(|e| CodecError::Encode(format!("gzip: {e}")))
}

/// Decompresses a gzip `body`; fails with [`CodecError::TooLarge`] as soon as the output would
/// pass `max` bytes, without allocating more than `max + 1` bytes.
pub fn gunzip_capped(body: &[u8], max: usize) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(max));
    let limit = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    let mut dec = GzDecoder::new(body).take(limit);
    match dec.read_to_end(&mut out) {
        Ok(_) if out.len() > max => Err(CodecError::TooLarge {
            size: out.len(),
            max,
        }),
        Ok(_) => Ok(out),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(CodecError::Incomplete),
        Err(e) => Err(CodecError::Invalid(format!("gzip: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let body = b"hello hello hello hello hello".repeat(10);
        let mut z = Vec::new();
        gzip_into(&body, &mut z).unwrap();
        assert!(z.len() < body.len());
        assert_eq!(gunzip_capped(&z, 1 << 20).unwrap(), body);
    }

    #[test]
    fn bomb_is_capped() {
        let body = vec![0u8; 50 << 20];
        let mut z = Vec::new();
        gzip_into(&body, &mut z).unwrap();
        assert!(z.len() < 1 << 20, "50 MiB of zeros compress well");
        assert_eq!(
            gunzip_capped(&z, 1 << 20),
            Err(CodecError::TooLarge {
                size: (1 << 20) + 1,
                max: 1 << 20
            })
        );
    }

    #[test]
    fn truncated_stream_is_incomplete_and_garbage_invalid() {
        let mut z = Vec::new();
        gzip_into(&[7u8; 1000], &mut z).unwrap();
        assert_eq!(
            gunzip_capped(&z[..z.len() / 2], 1 << 20),
            Err(CodecError::Incomplete)
        );
        assert!(matches!(
            gunzip_capped(b"definitely not gzip", 1 << 20),
            Err(CodecError::Invalid(_))
        ));
    }
}
