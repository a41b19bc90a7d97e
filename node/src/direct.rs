//! Writing a new file straight to the disk: `O_DIRECT` (where the file
//! system has it) in aligned pieces of [`WRITE_PIECE`] bytes, without a
//! copy in the page cache.
//!
//! For large files that are written once and not read back soon through
//! the same cache: a provider's uploads. They never wait in memory as
//! dirty pages, so an fsync after them has little
//! left to do and memory stays what the process holds. (On the development
//! VM, buffered writes also cost 5-10x the CPU of direct ones: see
//! BENCHMARKS.md, "Storage".)

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Bytes gathered before they go to the disk in one write.
pub const WRITE_PIECE: usize = 1 << 20;
/// What `O_DIRECT` wants buffers, offsets and lengths aligned to: the
/// device's logical block (4 KiB covers every common one).
pub const ALIGN: usize = 4096;

/// A new file being written: bytes gather in an aligned buffer and go to
/// the file a whole piece at a time; the last, partial block with
/// [`finish`](Self::finish). Dropped unfinished, the file keeps only the
/// whole pieces written.
pub struct DirectWriter {
    path: PathBuf,
    file: File,
    /// Whether `file` was opened with `O_DIRECT`.
    direct: bool,
    /// `WRITE_PIECE + ALIGN` bytes; the piece starts at `start`, aligned.
    buf: Vec<u8>,
    start: usize,
    /// Bytes gathered in the piece.
    len: usize,
    /// Bytes written to the file (a multiple of `ALIGN` until the end).
    written: u64,
}

impl std::fmt::Debug for DirectWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectWriter")
            .field("path", &self.path)
            .field("direct", &self.direct)
            .field("written", &self.written)
            .field("pending", &self.len)
            .finish()
    }
}

impl DirectWriter {
    /// Creates `path`, which must not exist.
    pub fn create_new(path: &Path) -> io::Result<Self> {
        let open = |direct: bool| {
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            if direct {
                options.custom_flags(libc::O_DIRECT);
            }
            options.open(path)
        };
        let buf = vec![0u8; WRITE_PIECE + ALIGN];
        let start = buf.as_ptr().align_offset(ALIGN);
        let (file, direct) = match open(start < ALIGN) {
            Ok(file) => (file, start < ALIGN),
            // No O_DIRECT on this file system (the file may have been
            // created before the flag was refused: it is ours).
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                let _ = fs::remove_file(path);
                (open(false)?, false)
            }
            Err(e) => return Err(e),
        };
        Ok(Self {
            path: path.to_path_buf(),
            file,
            direct,
            start: if direct { start } else { 0 },
            buf,
            len: 0,
            written: 0,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the first `len` bytes of the piece at `written`. A direct
    /// write the device refuses (an alignment it wants larger) reopens the
    /// file without `O_DIRECT` and goes on.
    fn write_out(&mut self, len: usize) -> io::Result<()> {
        let piece = &self.buf[self.start..self.start + len];
        match self.file.write_all_at(piece, self.written) {
            Err(e) if self.direct && e.raw_os_error() == Some(libc::EINVAL) => {
                self.file = OpenOptions::new().write(true).open(&self.path)?;
                self.direct = false;
                self.file.write_all_at(piece, self.written)
            }
            other => other,
        }
    }

    /// Writes what is left (padded to a whole block for `O_DIRECT`, then
    /// cut back to size) and answers the file, not yet fsynced.
    pub fn finish(mut self) -> io::Result<File> {
        let size = self.written + self.len as u64;
        let len = if self.direct {
            let padded = self.len.next_multiple_of(ALIGN);
            self.buf[self.start + self.len..self.start + padded].fill(0);
            padded
        } else {
            self.len
        };
        if len > 0 {
            self.write_out(len)?;
        }
        if len != self.len {
            self.file.set_len(size)?;
        }
        Ok(self.file)
    }
}

impl Write for DirectWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(WRITE_PIECE - self.len);
        let at = self.start + self.len;
        self.buf[at..at + n].copy_from_slice(&data[..n]);
        self.len += n;
        if self.len == WRITE_PIECE {
            self.write_out(WRITE_PIECE)?;
            self.written += WRITE_PIECE as u64;
            self.len = 0;
        }
        Ok(n)
    }

    /// Whole pieces are written as they fill; the rest waits for
    /// [`finish`](Self::finish).
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever the size and the write pattern, a finished file holds
    /// exactly the bytes written.
    #[test]
    fn finished_files_hold_exactly_what_was_written() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            ALIGN + 7,
            WRITE_PIECE - 1,
            WRITE_PIECE,
            WRITE_PIECE + 1,
            3 * WRITE_PIECE + 16 * 1024 + 4_000,
        ];
        for (i, &size) in sizes.iter().enumerate() {
            let path = dir.path().join(format!("f{i}"));
            let data: Vec<u8> = (0..size).map(|j| (j * 31 + i) as u8).collect();
            let mut writer = DirectWriter::create_new(&path).unwrap();
            // Uneven writes, as a transfer's groups and trailer come.
            for part in data.chunks(16 * 1024 + 32) {
                writer.write_all(part).unwrap();
            }
            writer.flush().unwrap();
            let file = writer.finish().unwrap();
            file.sync_all().unwrap();
            assert_eq!(file.metadata().unwrap().len(), size as u64, "size {size}");
            assert_eq!(fs::read(&path).unwrap(), data, "size {size}");
        }
        assert!(DirectWriter::create_new(&dir.path().join("f0")).is_err());
    }
}
