//! Files attached to e-mails, kept apart from their messages under their SHA-256 (the same
//! file sent twice is one file), kept before the message is queued, and served by the console
//! to signed-in agents.

use futures::future::BoxFuture;
use socialcare_domain::ports::StoreError;
pub use socialcare_webhooks::email::{FileToKeep, attachment_path};
use std::path::PathBuf;
use std::sync::Arc;

/// Where attached files are kept: the data directory locally, the mail bucket on AWS.
pub trait AttachmentFiles: Send + Sync {
    /// Keeps the file; keeping it again changes nothing.
    fn keep<'a>(&'a self, file: &'a FileToKeep) -> BoxFuture<'a, Result<(), StoreError>>;

    /// The file kept under `sha256`, if any.
    fn read<'a>(&'a self, sha256: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>>;
}

pub type Files = Arc<dyn AttachmentFiles>;

/// Whether `name` is a SHA-256 in hex, as files are kept under: nothing else names a file.
pub fn is_digest(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Keeps each file, one after another (a message has few).
pub async fn keep_all(files: &dyn AttachmentFiles, kept: &[FileToKeep]) -> Result<(), StoreError> {
    for file in kept {
        files.keep(file).await?;
    }
    Ok(())
}

/// Files in a folder, one per digest (the local runner's `email-attachments/`).
pub struct FolderFiles {
    folder: PathBuf,
}

impl FolderFiles {
    pub fn shared(folder: PathBuf) -> Files {
        Arc::new(Self { folder })
    }
}

impl AttachmentFiles for FolderFiles {
    fn keep<'a>(&'a self, file: &'a FileToKeep) -> BoxFuture<'a, Result<(), StoreError>> {
        let folder = self.folder.clone();
        let (name, bytes) = (file.sha256.clone(), file.bytes.clone());
        Box::pin(async move {
            if !is_digest(&name) {
                return Err(StoreError::invalid(format!("{name:?} is no SHA-256")));
            }
            let kept = tokio::task::spawn_blocking(move || {
                let path = folder.join(&name);
                if path.exists() {
                    return Ok(());
                }
                std::fs::create_dir_all(&folder)?;
                // Written whole, then renamed: a file cut short is never read as the file.
                let partial = folder.join(format!("{name}.partial"));
                std::fs::write(&partial, &bytes)?;
                std::fs::rename(&partial, &path)
            })
            .await;
            match kept {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(StoreError::unavailable(format!("keeping a file: {e}"))),
                Err(e) => Err(StoreError::unavailable(format!("keeping a file: {e}"))),
            }
        })
    }

    fn read<'a>(&'a self, sha256: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, StoreError>> {
        let path = self.folder.join(sha256);
        let named = is_digest(sha256);
        Box::pin(async move {
            if !named {
                return Ok(None);
            }
            let read = tokio::task::spawn_blocking(move || std::fs::read(path)).await;
            match read {
                Ok(Ok(bytes)) => Ok(Some(bytes)),
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Ok(Err(e)) => Err(StoreError::unavailable(format!("reading a file: {e}"))),
                Err(e) => Err(StoreError::unavailable(format!("reading a file: {e}"))),
            }
        })
    }
}
