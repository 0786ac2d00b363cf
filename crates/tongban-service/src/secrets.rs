//! Administration of sealed secrets: moving a node's key files into the
//! database, resealing after a KEK rotation, and telling what is sealed
//! under which KEK.

use std::path::Path;

use serde_json::json;

use crate::keystore::SealedStatus;
use crate::{Code, Error, Result, Service};

impl Service {
    fn require_sealed(&self) -> Result<()> {
        if self.keys.is_sealed() {
            return Ok(());
        }
        Err(Error::rejected(
            Code::KekRequired,
            "secrets are files on this node: name the key-encryption keys (TONGBAN_KEK_FILE) to seal them in the database",
        ))
    }

    /// What is sealed under which KEK; `None` when the secrets are files.
    pub async fn secrets_status(&self) -> Result<Option<SealedStatus>> {
        Ok(self.keys.sealed_status().await?)
    }

    /// Where the secrets are, in words.
    pub fn secrets_place(&self) -> String {
        self.keys.describe()
    }

    /// Seals the secrets of a key store directory into the database (the
    /// move from one node's key files to secrets every node can use).
    /// Returns how many were sealed and how many were there already.
    /// Audited as `secrets.import` when something was sealed.
    pub async fn secrets_import(&self, dir: &Path) -> Result<(u64, u64)> {
        self.require_sealed()?;
        if !dir.is_dir() {
            return Err(Error::rejected(
                Code::KeyStoreDirMissing,
                format!("{} is not a key store directory", dir.display()),
            ));
        }
        let audit = [self.audit(
            "secrets.import",
            "sealed-secrets",
            json!({"from": dir.display().to_string(), "kek": self.keys.current_kek()}),
        )];
        Ok(self.keys.import_files(dir, &audit).await?)
    }

    /// Reseals every secret under the current KEK (after `tongban kek new`
    /// put a new one first on every node). Returns how many were resealed.
    /// Audited as `secrets.reseal` when something was.
    pub async fn secrets_reseal(&self) -> Result<u64> {
        self.require_sealed()?;
        let audit = [self.audit(
            "secrets.reseal",
            "sealed-secrets",
            json!({"kek": self.keys.current_kek()}),
        )];
        Ok(self.keys.reseal(&audit).await?)
    }
}
