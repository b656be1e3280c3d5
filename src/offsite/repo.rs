//! Opening and creating the restic repository: the connection check first, then
//! rustic_core with Lifeboat's backend and a local cache of what is already uploaded.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use rustic_core::{
    ConfigOptions, Credentials, IndexedIdsStatus, KeyOptions, OpenStatus, Repository, RepositoryBackends,
    RepositoryOptions,
};

use crate::error::{Error, Result};

use super::backend::{Probe, S3Backend, Uploaded};
use super::classify::{self, Stage, What};
use super::secrets::Secrets;
use super::url::RepoUrl;

/// An open repository.
pub type OpenRepo = Repository<OpenStatus>;
/// An open repository with its index of blob ids read (what a backup needs).
pub type IndexedRepo = Repository<IndexedIdsStatus>;

/// A repository reached over its backend, with what the backend uploaded.
pub struct Remote {
    /// Where it is.
    pub url: RepoUrl,
    /// What the connection check found.
    pub probe: Probe,
    /// The backend (clones share the counters and the cancel flag).
    pub backend: S3Backend,
}

impl Remote {
    /// Checks the connection (one short list and one `stat`, each within a few seconds).
    ///
    /// # Errors
    /// A classified error: unreachable endpoint, refused keys, unknown bucket.
    pub fn connect(
        url: &RepoUrl,
        secrets: &Secrets,
        upload_limit: Option<u64>,
        cancel: Arc<AtomicBool>,
    ) -> Result<Remote> {
        Self::connect_counting(url, secrets, upload_limit, cancel, None)
    }

    /// As [`Remote::connect`], counting uploads into `uploaded` when given.
    ///
    /// # Errors
    /// As [`Remote::connect`].
    pub fn connect_counting(
        url: &RepoUrl,
        secrets: &Secrets,
        upload_limit: Option<u64>,
        cancel: Arc<AtomicBool>,
        uploaded: Option<Arc<Uploaded>>,
    ) -> Result<Remote> {
        let mut backend = S3Backend::new(url, &secrets.keys, upload_limit, cancel)
            .map_err(|e| classify::from_opendal(url, &e, Stage::Connect))?;
        if let Some(counter) = uploaded {
            backend = backend.counting_into(counter);
        }
        let probe = backend.probe().map_err(|e| classify::from_opendal(url, &e, Stage::Connect))?;
        Ok(Remote { url: url.clone(), probe, backend })
    }

    /// What was uploaded so far.
    pub fn uploaded(&self) -> Arc<Uploaded> {
        self.backend.uploaded()
    }

    fn repository(&self) -> Result<Repository<()>> {
        let backends = RepositoryBackends::new(Arc::new(self.backend.clone()), None);
        Repository::new(&options(), &backends).map_err(|e| self.fail(&e, "open"))
    }

    /// Opens the repository with the password.
    ///
    /// # Errors
    /// [`Error::OffsiteNotARepository`] when there is none; a wrong password; a storage failure.
    pub fn open(&self, secrets: &Secrets, what: What) -> Result<OpenRepo> {
        if self.probe == Probe::Empty {
            return Err(Error::OffsiteNotARepository { repository: self.url.text.clone() });
        }
        self.repository()?.open(&Credentials::Password(secrets.password.clone())).map_err(|e| self.fail(&e, what))
    }

    /// Creates a repository (version 2, the chunk size of `chunk_bytes` on average), or
    /// opens the one there. Returns it and whether it was created.
    ///
    /// # Errors
    /// A wrong password for an existing one; a storage failure.
    pub fn init_or_open(&self, secrets: &Secrets, chunk_bytes: u64) -> Result<(OpenRepo, bool)> {
        if self.probe == Probe::Repository {
            return Ok((self.open(secrets, "init")?, false));
        }
        let config = ConfigOptions::default()
            .set_chunk_size(bytesize::ByteSize::b(chunk_bytes))
            .set_chunk_min_size(bytesize::ByteSize::b(chunk_bytes / 4))
            .set_chunk_max_size(bytesize::ByteSize::b(chunk_bytes * 8));
        let repo = self
            .repository()?
            .init(&Credentials::Password(secrets.password.clone()), &KeyOptions::default(), &config)
            .map_err(|e| self.fail(&e, "init"))?;
        Ok((repo, true))
    }

    /// A rustic_core failure of this repository, classified.
    pub fn fail(&self, e: &rustic_core::RusticError, what: What) -> Error {
        classify::from_rustic(&self.url, e, Stage::Transfer, what)
    }
}

/// rustic_core's options: its cache (index and snapshot files already uploaded) under
/// Lifeboat's data dir, so a push does not download them again.
fn options() -> RepositoryOptions {
    let dir: PathBuf = crate::env::offsite_cache_dir();
    RepositoryOptions::default().cache_dir(dir)
}
