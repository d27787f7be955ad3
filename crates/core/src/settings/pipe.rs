//! Sync pipes, their sync classes and JSON attributes, and the global sync configuration.

use std::time::Duration;

use super::{Reader, SettingsError};
use crate::config::Config;
use crate::syntax::{Dn, Filter};

crate::choice! {
    /// `synchronization-mode`.
    pub enum SyncMode { Standard = "standard", Notification = "notification" }
}

/// A sync pipe.
#[derive(Clone, Debug)]
pub struct SyncPipeSettings {
    pub name: String,
    pub label: String,
    pub started: bool,
    pub synchronization_mode: SyncMode,
    pub sync_source: String,
    pub sync_destination: String,
    pub change_detection_polling_interval: Duration,
    pub num_worker_threads: usize,
    /// Changes applied per second; `None` is unlimited.
    pub max_rate_per_second: Option<u64>,
    /// Ping's background retries of failed changes (`max-failed-op-background-retries`, 0: none).
    pub max_failed_op_background_retries: u32,
    /// The wait before a background retry (`failed-op-background-retry-delay`).
    pub failed_op_background_retry_delay: Duration,
    /// The mass-delete guard: more deletes than this within `mass_delete_interval` (or in one resync) are held
    /// (`mass-delete-threshold`; 0: no guard).
    pub mass_delete_threshold: u64,
    pub mass_delete_interval: Duration,
    pub changes_queue_size: usize,
    /// How operations on the pipe's endpoints are retried.
    pub retry: RetrySettings,
}

/// A pipe's retry policy for operations on its endpoints (`max-operation-attempts`, `retry-backoff-*`). Read on
/// its own by what needs only the policy (a change detector), so that it does not require the pipe's source and
/// destination to be set.
#[derive(Clone, Debug)]
pub struct RetrySettings {
    pub max_operation_attempts: u32,
    pub retry_backoff_initial_wait: Duration,
    pub retry_backoff_max_wait: Duration,
    pub retry_backoff_increase_by: Duration,
    pub retry_backoff_percentage_increase: u32,
}

impl RetrySettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        Ok(RetrySettings {
            max_operation_attempts: r.required_integer::<u32>("max-operation-attempts")?.max(1),
            retry_backoff_initial_wait: r.required_duration("retry-backoff-initial-wait")?,
            retry_backoff_max_wait: r.required_duration("retry-backoff-max-wait")?,
            retry_backoff_increase_by: r.required_duration("retry-backoff-increase-by")?,
            retry_backoff_percentage_increase: r.required_integer("retry-backoff-percentage-increase")?,
        })
    }

    /// The retry policy of pipe `pipe` (any case).
    pub fn of(config: &Config, pipe: &str) -> Result<Self, SettingsError> {
        RetrySettings::read(&Reader::new(super::lookup(config, "sync-pipe", pipe)?))
    }
}

impl SyncPipeSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        Ok(SyncPipeSettings {
            name: r.name().to_string(),
            label: r.label(),
            started: r.flag("started")?,
            synchronization_mode: r.required_choice("synchronization-mode")?,
            sync_source: r.required_text("sync-source")?,
            sync_destination: r.required_text("sync-destination")?,
            change_detection_polling_interval: r.required_duration("change-detection-polling-interval")?,
            num_worker_threads: r.required_integer::<usize>("num-worker-threads")?.max(1),
            max_rate_per_second: r.integer("max-rate-per-second")?,
            max_failed_op_background_retries: r.required_integer("max-failed-op-background-retries")?,
            failed_op_background_retry_delay: r.required_duration("failed-op-background-retry-delay")?,
            mass_delete_threshold: r.required_integer("mass-delete-threshold")?,
            mass_delete_interval: r.required_duration("mass-delete-interval")?,
            changes_queue_size: r.required_integer::<usize>("changes-queue-size")?.max(1),
            retry: RetrySettings::read(r)?,
        })
    }

    /// The settings of pipe `name` (any case).
    pub fn of(config: &Config, name: &str) -> Result<Self, SettingsError> {
        SyncPipeSettings::read(&Reader::new(super::lookup(config, "sync-pipe", name)?))
    }

    /// Refuses what ferrosync cannot run (notification mode).
    pub fn check_runnable(&self) -> Result<(), SettingsError> {
        if self.synchronization_mode == SyncMode::Notification {
            return Err(SettingsError::Invalid {
                object: self.label.clone(),
                reason: "synchronization-mode is notification, which ferrosync does not support: set it to standard"
                    .into(),
            });
        }
        Ok(())
    }
}

/// A sync class of a pipe.
#[derive(Clone, Debug)]
pub struct SyncClassSettings {
    pub name: String,
    pub label: String,
    pub evaluation_order_index: i64,
    pub include_base_dn: Vec<Dn>,
    pub include_filter: Vec<Filter>,
    pub synchronize_creates: bool,
    pub synchronize_modifies: bool,
    pub synchronize_deletes: bool,
    pub attribute_maps: Vec<String>,
    pub dn_maps: Vec<String>,
    /// `auto-mapped-source-attribute`, as written (`-all-`, `-none-`, names or comma lists).
    pub auto_mapped_source_attribute: Vec<String>,
    pub excluded_auto_mapped_source_attributes: Vec<String>,
    pub destination_correlation_attributes: Vec<Vec<String>>,
    pub destination_correlation_attributes_on_delete: Vec<Vec<String>>,
    pub modifies_as_creates: bool,
    pub creates_as_modifies: bool,
    pub ignore_zero_length_values: bool,
    pub destination_create_only_attribute: Vec<String>,
    pub replace_all_attr_values: bool,
}

impl SyncClassSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        Ok(SyncClassSettings {
            name: r.name().to_string(),
            label: r.label(),
            evaluation_order_index: r.required_integer("evaluation-order-index")?,
            include_base_dn: r.dns("include-base-dn")?,
            include_filter: r.filters("include-filter")?,
            synchronize_creates: r.flag("synchronize-creates")?,
            synchronize_modifies: r.flag("synchronize-modifies")?,
            synchronize_deletes: r.flag("synchronize-deletes")?,
            attribute_maps: r.texts("attribute-map")?,
            dn_maps: r.texts("dn-map")?,
            auto_mapped_source_attribute: r.texts("auto-mapped-source-attribute")?,
            excluded_auto_mapped_source_attributes: r.texts("excluded-auto-mapped-source-attributes")?,
            destination_correlation_attributes: r.attribute_lists("destination-correlation-attributes")?,
            destination_correlation_attributes_on_delete: r
                .attribute_lists("destination-correlation-attributes-on-delete")?,
            modifies_as_creates: r.flag("modifies-as-creates")?,
            creates_as_modifies: r.flag("creates-as-modifies")?,
            ignore_zero_length_values: r.flag("ignore-zero-length-values")?,
            destination_create_only_attribute: r.texts("destination-create-only-attribute")?,
            replace_all_attr_values: r.flag("replace-all-attr-values")?,
        })
    }
}

/// A JSON attribute of a sync class: which fields of its JSON values count when values are compared and
/// written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonAttributeSettings {
    /// The attribute (the object's name).
    pub attribute: String,
    /// Only these fields are compared and written; all when empty.
    pub include_field: Vec<String>,
    /// These fields are never compared nor written.
    pub exclude_field: Vec<String>,
}

impl JsonAttributeSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let s = JsonAttributeSettings {
            attribute: r.name().to_string(),
            include_field: r.texts("include-field")?,
            exclude_field: r.texts("exclude-field")?,
        };
        if let Some(both) = s.include_field.iter().find(|f| s.exclude_field.iter().any(|x| x.eq_ignore_ascii_case(f))) {
            return Err(SettingsError::Invalid {
                object: r.label(),
                reason: format!("the field '{both}' is both an include-field and an exclude-field"),
            });
        }
        Ok(s)
    }
}

/// The global sync configuration.
#[derive(Clone, Debug)]
pub struct GlobalSyncSettings {
    /// The global switch: no pipe runs while this is false.
    pub started: bool,
}

impl GlobalSyncSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        Ok(GlobalSyncSettings { started: r.flag("started")? })
    }

    /// The global settings; the model's defaults when the singleton is missing.
    pub fn of(config: &Config) -> Result<Self, SettingsError> {
        match config.get("global-sync-configuration", "") {
            Some(g) => GlobalSyncSettings::read(&Reader::new(g)),
            None => {
                let t = crate::model::find_type("global-sync-configuration")
                    .ok_or_else(|| SettingsError::NoSuchObject { object: "Global Sync Configuration".into() })?;
                GlobalSyncSettings::read(&Reader::new(&crate::config::ConfigObject::new(t, Vec::new(), None)))
            }
        }
    }
}
