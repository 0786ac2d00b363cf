//! The resource catalogue: departments publish what they share, find what
//! others share.
//!
//! `catalogue_publish` makes a new resource or its next version, by the
//! providing department only; `catalogue_retire`,
//! `catalogue_show`/`catalogue_history`, `catalogue_list` and
//! `catalogue_search` (the store splits Chinese text for it: `tongban-store`'s
//! `catalogue`).

use serde::Deserialize;
use serde_json::json;
use tongban_codes::RegionCode;
use tongban_schema::SchemaError;
use tongban_store::{CatalogueEntry, CatalogueField, CatalogueFilter, DepartmentStatus};

use crate::error::Code;
use crate::text::{self, MAX_NAME_CHARS};
use crate::{Error, Result, Service};

/// Longest resource id.
const MAX_ID: usize = 100;
/// Longest description. These limits are also those of a peer region's
/// shared resources (`peer_catalogue_accept`): what one hub publishes,
/// another takes.
pub(crate) const MAX_DESCRIPTION: usize = 4_000;
/// Most tags, and longest tag.
pub(crate) const MAX_TAGS: usize = 32;
pub(crate) const MAX_TAG: usize = 50;
/// Longest field label.
pub(crate) const MAX_LABEL: usize = 100;
/// Longest update frequency (更新周期), e.g. `real-time`, `每日`.
pub(crate) const MAX_FREQUENCY: usize = 50;
/// Most fields.
pub(crate) const MAX_FIELDS: usize = 500;

/// Sharing types (共享类型), as stored, with their Chinese names.
pub const SHARING_TYPES: &[(&str, &str)] = &[
    ("unconditional", "无条件共享"),
    ("conditional", "有条件共享"),
    ("not-shared", "不予共享"),
];

/// What a department publishes (a file for `tongban catalogue publish`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CatalogueDraft {
    /// Resource id: 1–100 of A-Z a-z 0-9 . _ -
    pub id: String,
    /// Name (资源名称).
    pub name: String,
    /// Description (资源摘要).
    #[serde(default)]
    pub description: String,
    /// Payload schema `id@version` (a registered message schema).
    pub schema: String,
    /// Fields with their Chinese labels; each must be a property of the schema.
    #[serde(default, deserialize_with = "exact_fields")]
    pub fields: Vec<CatalogueField>,
    /// `unconditional`, `conditional`, `not-shared`, or the Chinese names.
    pub sharing_type: String,
    /// Update frequency, e.g. `real-time`, `daily`, `monthly`.
    #[serde(default = "default_frequency")]
    pub update_frequency: String,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Region code (default: the provider's).
    #[serde(default)]
    pub region_code: Option<String>,
}

fn default_frequency() -> String {
    "real-time".into()
}

/// Fields read as `{"name", "label"}` exactly: another member (a misspelt
/// `lable`, a `description`) is refused, not dropped.
fn exact_fields<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Vec<CatalogueField>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Field {
        name: String,
        label: String,
    }
    Ok(Vec::<Field>::deserialize(d)?
        .into_iter()
        .map(|f| CatalogueField {
            name: f.name,
            label: f.label,
        })
        .collect())
}

/// The draft's free text, as it will be stored: names and tags refused
/// when padded, the description kept exactly.
fn check_text(d: &CatalogueDraft) -> Result<()> {
    text::name(Code::CatalogueInvalid, "name", &d.name, MAX_NAME_CHARS)?;
    text::prose(
        Code::CatalogueInvalid,
        "description",
        &d.description,
        MAX_DESCRIPTION,
    )?;
    text::name(
        Code::CatalogueInvalid,
        "updateFrequency",
        &d.update_frequency,
        MAX_FREQUENCY,
    )?;
    if d.tags.len() > MAX_TAGS {
        return Err(rejected(
            Code::CatalogueInvalid,
            format!("tags: at most {MAX_TAGS}"),
        ));
    }
    for tag in &d.tags {
        text::name(Code::CatalogueInvalid, "a tag", tag, MAX_TAG)?;
    }
    Ok(())
}

fn rejected(code: Code, message: impl Into<String>) -> Error {
    Error::rejected(code, message)
}

/// The stored sharing type for an English or Chinese name.
pub fn sharing_type(s: &str) -> Option<&'static str> {
    SHARING_TYPES
        .iter()
        .find(|(en, zh)| *en == s || *zh == s)
        .map(|(en, _)| *en)
}

impl Service {
    /// Publishes a new resource (`update = false`) or the next version of one
    /// (`update = true`) for `department`, which becomes (or must be) its
    /// provider.
    pub async fn catalogue_publish(
        &self,
        department: &str,
        draft: CatalogueDraft,
        update: bool,
    ) -> Result<CatalogueEntry> {
        let d = &draft;
        let id_ok = !d.id.is_empty()
            && d.id.len() <= MAX_ID
            && d.id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if !id_ok {
            return Err(rejected(
                Code::CatalogueInvalid,
                format!("resource id {:?}: 1 to {MAX_ID} of A-Z a-z 0-9 . _ -", d.id),
            ));
        }
        if d.id.starts_with("hub.") {
            return Err(rejected(
                Code::CatalogueIdReserved,
                format!(
                    "resource ids starting with hub. name the hub's own services; {} cannot be published",
                    d.id
                ),
            ));
        }
        check_text(d)?;
        let sharing = sharing_type(&d.sharing_type).ok_or_else(|| {
            rejected(
                Code::CatalogueSharingTypeInvalid,
                format!(
                    "sharing type {:?}: one of unconditional (无条件共享), conditional (有条件共享), not-shared (不予共享)",
                    d.sharing_type
                ),
            )
        })?;
        let provider = self.department(department).await?;
        if provider.status != DepartmentStatus::Active {
            return Err(rejected(
                Code::DepartmentSuspended,
                format!("{department} is not active"),
            ));
        }
        let region_code = match &d.region_code {
            Some(r) => RegionCode::parse(r)
                .map_err(|e| rejected(Code::RegionCodeInvalid, format!("{r}: {e}")))?
                .to_string(),
            None => provider.region_code.clone(),
        };
        let (schema_id, version) = d.schema.split_once('@').ok_or_else(|| {
            rejected(
                Code::SchemaUnknown,
                format!("{}: name the schema as id@version", d.schema),
            )
        })?;
        let schema = self.schema(schema_id, Some(version)).await?;
        if schema.kind != "message" {
            return Err(rejected(
                Code::SchemaKindConflict,
                format!(
                    "{} is a {} schema, not a message schema",
                    d.schema, schema.kind
                ),
            ));
        }
        let content: serde_json::Value = serde_json::from_str(&schema.content)
            .map_err(|e| SchemaError::Invalid(format!("{}: {e}", d.schema)))?;
        let properties = content.get("properties").and_then(|p| p.as_object());
        if d.fields.len() > MAX_FIELDS {
            return Err(rejected(
                Code::CatalogueInvalid,
                format!("at most {MAX_FIELDS} fields"),
            ));
        }
        for f in &d.fields {
            text::name(
                Code::CatalogueInvalid,
                &format!("the label of field {:?}", f.name),
                &f.label,
                MAX_LABEL,
            )?;
            if !properties.is_some_and(|p| p.contains_key(&f.name)) {
                return Err(rejected(
                    Code::CatalogueFieldUnknown,
                    format!("{} has no field {:?}", d.schema, f.name),
                ));
            }
        }
        let existing = self.store.catalogue_entry(&d.id).await?;
        let now = self.now();
        let (version, created_at) = match (&existing, update) {
            (Some(old), _) if old.provider != department => {
                return Err(rejected(
                    Code::CatalogueNotProvider,
                    format!(
                        "{} is provided by {}; {department} may not publish it",
                        d.id, old.provider
                    ),
                ));
            }
            (Some(_), false) => {
                return Err(rejected(
                    Code::CatalogueExists,
                    format!(
                        "{} is already in the catalogue; publish a new version with update",
                        d.id
                    ),
                ));
            }
            (None, true) => {
                return Err(rejected(
                    Code::CatalogueUnknown,
                    format!("{} is not in the catalogue", d.id),
                ));
            }
            (Some(old), true) => (old.version + 1, old.created_at),
            (None, false) => (1, now),
        };
        let entry = CatalogueEntry {
            id: d.id.clone(),
            version,
            name: d.name.clone(),
            description: d.description.clone(),
            provider: department.to_owned(),
            region_code,
            schema: d.schema.clone(),
            fields: d.fields.clone(),
            sharing_type: sharing.to_owned(),
            update_frequency: d.update_frequency.clone(),
            tags: d.tags.clone(),
            status: "published".into(),
            created_at,
            updated_at: now,
        };
        let audit = [tongban_store::AuditRecord::new(
            now,
            department,
            if update {
                "catalogue.update"
            } else {
                "catalogue.publish"
            },
            &entry.id,
            self.asked_by(
                json!({"version": version, "schema": entry.schema, "sharingType": entry.sharing_type}),
            ),
        )];
        self.store.put_catalogue_entry(&entry, &audit).await?;
        self.maybe_checkpoint().await?;
        Ok(entry)
    }

    /// Retires a resource (a new version with status `retired`): it leaves
    /// searches and listings, its history stays.
    pub async fn catalogue_retire(&self, department: &str, id: &str) -> Result<CatalogueEntry> {
        let old = self.catalogue_show(id).await?;
        if old.provider != department {
            return Err(rejected(
                Code::CatalogueNotProvider,
                format!(
                    "{id} is provided by {}; {department} may not retire it",
                    old.provider
                ),
            ));
        }
        if old.status == "retired" {
            return Err(rejected(
                Code::CatalogueRetired,
                format!("{id} is already retired"),
            ));
        }
        let now = self.now();
        let entry = CatalogueEntry {
            version: old.version + 1,
            status: "retired".into(),
            updated_at: now,
            ..old
        };
        let audit = [tongban_store::AuditRecord::new(
            now,
            department,
            "catalogue.retire",
            id,
            self.asked_by(json!({"version": entry.version})),
        )];
        self.store.put_catalogue_entry(&entry, &audit).await?;
        self.maybe_checkpoint().await?;
        Ok(entry)
    }

    /// A resource's current version.
    pub async fn catalogue_show(&self, id: &str) -> Result<CatalogueEntry> {
        self.store.catalogue_entry(id).await?.ok_or_else(|| {
            rejected(
                Code::CatalogueUnknown,
                format!("{id} is not in the catalogue"),
            )
        })
    }

    /// A resource's versions as published (JSON), oldest first.
    pub async fn catalogue_history(&self, id: &str) -> Result<Vec<serde_json::Value>> {
        self.catalogue_show(id).await?;
        self.store
            .catalogue_versions(id)
            .await?
            .into_iter()
            .map(|(_, c)| {
                serde_json::from_str(&c).map_err(|e| {
                    Error::Store(tongban_store::StoreError::Corrupt(format!(
                        "catalogue version of {id}: {e}"
                    )))
                })
            })
            .collect()
    }

    /// Resources matching a filter, by id.
    pub async fn catalogue_list(
        &self,
        filter: &CatalogueFilter,
        limit: usize,
    ) -> Result<Vec<CatalogueEntry>> {
        Ok(self
            .store
            .catalogue_list(&normalised(filter)?, limit)
            .await?)
    }

    /// Searches names, descriptions, field labels and tags; every
    /// whitespace-separated term must occur; best matches first.
    pub async fn catalogue_search(
        &self,
        query: &str,
        filter: &CatalogueFilter,
        limit: usize,
    ) -> Result<Vec<CatalogueEntry>> {
        if query
            .split_whitespace()
            .all(|t| !t.chars().any(char::is_alphanumeric))
        {
            return Err(rejected(
                Code::CatalogueQueryEmpty,
                "give at least one search term (e.g. 营业执照, or 婚姻 登记)",
            ));
        }
        Ok(self
            .store
            .catalogue_search(query, &normalised(filter)?, limit)
            .await?)
    }
}

fn normalised(filter: &CatalogueFilter) -> Result<CatalogueFilter> {
    let mut f = filter.clone();
    if let Some(s) = &filter.sharing_type {
        f.sharing_type = Some(
            sharing_type(s)
                .ok_or_else(|| {
                    rejected(
                        Code::CatalogueSharingTypeInvalid,
                        format!("sharing type {s:?}: unconditional, conditional or not-shared"),
                    )
                })?
                .to_owned(),
        );
    }
    Ok(f)
}
