//! The schema registry: JSON Schemas published as `id@version`, immutable
//! once published, each new version checked for backward compatibility.

use serde_json::{Value, json};
use tongban_licence::LicenceType;
use tongban_schema::{Change, SchemaError, Version, check_id, check_schema};
use tongban_store::{SchemaInsert, SchemaRow, sha256_hex};

use crate::error::Code;
use crate::{Error, Result, Service};

/// Kinds of schema the registry holds.
pub const KINDS: &[&str] = &["licence-type", "message"];

/// The outcome of publishing.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Published {
    /// Schema id.
    pub id: String,
    /// Version.
    pub version: String,
    /// `licence-type` or `message`.
    pub kind: String,
    /// Newly published, or already there with the same content.
    #[serde(serialize_with = "outcome_str")]
    pub outcome: SchemaInsert,
    /// The version it was compared with.
    pub previous: Option<String>,
    /// Every change from the previous version (breaking ones flagged).
    pub changes: Vec<Change>,
}

fn outcome_str<S: serde::Serializer>(o: &SchemaInsert, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(match o {
        SchemaInsert::Inserted => "published",
        SchemaInsert::AlreadyPresent => "already-published",
        SchemaInsert::Conflict => "conflict",
    })
}

impl Service {
    /// Publishes a schema. `id` and `version` default to the document's
    /// annotation (`x-licence-type` for licence types, `x-message-type` for
    /// messages). Refuses invalid schemas, changed content under a published
    /// version, versions older than the latest, and breaking changes unless
    /// `allow_breaking`.
    pub async fn publish_schema(
        &self,
        kind: &str,
        id: Option<&str>,
        version: Option<&str>,
        schema: Value,
        allow_breaking: bool,
    ) -> Result<Published> {
        if !KINDS.contains(&kind) {
            return Err(Error::rejected(
                Code::SchemaKindInvalid,
                format!("kind {kind:?} is not one of {KINDS:?}"),
            ));
        }
        check_schema(&schema)?;
        let (annotated_id, annotated_version, title) = annotation(kind, &schema)?;
        let id = id.map(str::to_owned).or(annotated_id).ok_or_else(|| {
            Error::rejected(
                Code::SchemaIdMissing,
                "give --id, or an x-message-type {id, version} annotation",
            )
        })?;
        let version = version
            .map(str::to_owned)
            .or(annotated_version)
            .ok_or_else(|| {
                Error::rejected(
                    Code::SchemaVersionMissing,
                    "give --version, or an x-message-type {id, version} annotation",
                )
            })?;
        check_id(&id)?;
        let parsed = Version::parse(&version)?;
        if kind == "licence-type" {
            let t = LicenceType::from_schema(schema.clone())?;
            if t.code.as_str() != id || t.version != version {
                return Err(Error::rejected(
                    Code::SchemaIdMismatch,
                    format!(
                        "a licence type is published as its type code and version ({}@{})",
                        t.code, t.version
                    ),
                ));
            }
        }
        let content =
            String::from_utf8(tongban_seal::jcs::canonicalize(&schema)).unwrap_or_default();
        let sha256 = sha256_hex(content.as_bytes());

        let existing = self.schema_versions(&id).await?;
        if let Some(other) = existing.iter().find(|r| r.kind != kind) {
            return Err(Error::rejected(
                Code::SchemaKindConflict,
                format!("{id} is already published as a {} schema", other.kind),
            ));
        }
        if let Some(same) = existing.iter().find(|r| r.version == version) {
            if same.sha256 == sha256 {
                return Ok(Published {
                    id,
                    version,
                    kind: kind.into(),
                    outcome: SchemaInsert::AlreadyPresent,
                    previous: None,
                    changes: Vec::new(),
                });
            }
            return Err(Error::rejected(
                Code::SchemaVersionConflict,
                format!(
                    "{id}@{version} is already published with different content; published versions are immutable, publish a new version"
                ),
            ));
        }
        let latest = existing
            .iter()
            .filter_map(|r| Version::parse(&r.version).ok().map(|v| (v, r)))
            .max_by(|a, b| a.0.cmp(&b.0));
        let mut changes = Vec::new();
        let mut previous = None;
        if let Some((latest_version, row)) = latest {
            if parsed <= latest_version {
                return Err(Error::rejected(
                    Code::SchemaVersionNotNewer,
                    format!(
                        "{id}@{version} is not newer than the published {id}@{}",
                        row.version
                    ),
                ));
            }
            let old: Value = serde_json::from_str(&row.content).map_err(|e| {
                Error::Store(tongban_store::StoreError::Corrupt(format!(
                    "schema {id}@{}: {e}",
                    row.version
                )))
            })?;
            changes = tongban_schema::diff(&old, &schema);
            previous = Some(row.version.clone());
            let breaking: Vec<String> = changes
                .iter()
                .filter(|c| c.breaking)
                .map(ToString::to_string)
                .collect();
            if !breaking.is_empty() && !allow_breaking {
                return Err(Error::rejected(
                    Code::SchemaIncompatible,
                    format!(
                        "{id}@{version} breaks data valid under {id}@{}:\n  {}\n(publish anyway with --allow-breaking)",
                        row.version,
                        breaking.join("\n  ")
                    ),
                ));
            }
        }
        let row = SchemaRow {
            id: id.clone(),
            version: version.clone(),
            kind: kind.to_owned(),
            title,
            content,
            sha256: sha256.clone(),
            created_at: self.now(),
        };
        let audit = [self.audit(
            "schema.publish",
            &format!("{id}@{version}"),
            json!({"kind": kind, "sha256": sha256, "previous": previous, "breaking": changes.iter().filter(|c| c.breaking).count(), "allowBreaking": allow_breaking}),
        )];
        let outcome = self.store.insert_schema(&row, &audit).await?;
        if outcome == SchemaInsert::Conflict {
            return Err(Error::rejected(
                Code::SchemaVersionConflict,
                format!("{id}@{version} was published concurrently with different content"),
            ));
        }
        self.maybe_checkpoint().await?;
        if kind == "licence-type" {
            self.reload_licence_types().await?;
        }
        Ok(Published {
            id,
            version,
            kind: kind.into(),
            outcome,
            previous,
            changes,
        })
    }

    /// Every published schema version, or those of one kind.
    pub async fn schemas(&self, kind: Option<&str>) -> Result<Vec<SchemaRow>> {
        Ok(self.store.schemas(kind).await?)
    }

    /// Every published version of one schema.
    pub async fn schema_versions(&self, id: &str) -> Result<Vec<SchemaRow>> {
        Ok(self
            .store
            .schemas(None)
            .await?
            .into_iter()
            .filter(|r| r.id == id)
            .collect())
    }

    /// One published schema version.
    pub async fn schema(&self, id: &str, version: Option<&str>) -> Result<SchemaRow> {
        let rows = self.schema_versions(id).await?;
        let found = match version {
            Some(v) => rows.into_iter().find(|r| r.version == v),
            None => rows.into_iter().max_by(|a, b| {
                let va = Version::parse(&a.version).ok();
                let vb = Version::parse(&b.version).ok();
                va.cmp(&vb)
            }),
        };
        found.ok_or_else(|| {
            Error::rejected(
                Code::SchemaUnknown,
                format!(
                    "no schema {id}{}",
                    version.map(|v| format!("@{v}")).unwrap_or_default()
                ),
            )
        })
    }

    /// The changes between two published versions of a schema.
    pub async fn schema_diff(&self, id: &str, from: &str, to: &str) -> Result<Vec<Change>> {
        let a = self.schema(id, Some(from)).await?;
        let b = self.schema(id, Some(to)).await?;
        let parse = |r: &SchemaRow| -> Result<Value> {
            serde_json::from_str(&r.content).map_err(|e| {
                Error::Store(tongban_store::StoreError::Corrupt(format!(
                    "schema {}@{}: {e}",
                    r.id, r.version
                )))
            })
        };
        Ok(tongban_schema::diff(&parse(&a)?, &parse(&b)?))
    }
}

/// `(id, version, title)` from the document's annotation.
fn annotation(kind: &str, schema: &Value) -> Result<(Option<String>, Option<String>, String)> {
    let key = if kind == "licence-type" {
        "x-licence-type"
    } else {
        "x-message-type"
    };
    let a = schema.get(key);
    let text = |k: &str| {
        a.and_then(|a| a.get(k))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let id = if kind == "licence-type" {
        text("code")
    } else {
        text("id")
    };
    let title = text("name")
        .or_else(|| {
            schema
                .get("title")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_default();
    // Listed beside the id wherever schemas are shown.
    if !title.is_empty() {
        let what = "the schema's title (its annotation's name, else title)";
        if let Some(m) = crate::text::name_problem(what, &title, crate::text::MAX_NAME_CHARS) {
            return Err(SchemaError::Invalid(m).into());
        }
    }
    Ok((id, text("version"), title))
}
