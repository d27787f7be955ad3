//! Answers given before the run: from flags and a properties file.

use std::collections::BTreeMap;

use super::questions::{question, QUESTIONS, TOOL_FLAGS};
use super::WizardError;

/// Answers given before the run: from flags and a properties file (flags win, key by key).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Answers {
    pub(super) values: BTreeMap<&'static str, Vec<String>>,
}

impl Answers {
    /// Adds a value to `key`, which must be a known question.
    pub fn add(&mut self, key: &str, value: &str, origin: &str) -> Result<(), WizardError> {
        let q = question(key).ok_or_else(|| {
            let keys: Vec<&str> = QUESTIONS.iter().map(|q| q.key).collect();
            WizardError::UnknownKey {
                key: key.to_string(),
                origin: origin.to_string(),
                suggestion: crate::util::closest(key, keys.iter().chain(TOOL_FLAGS).copied()).map(str::to_string),
                valid: keys.iter().map(|k| k.to_string()).collect(),
            }
        })?;
        self.values.entry(q.key).or_default().push(value.to_string());
        Ok(())
    }

    /// Reads a properties file's text: `key=value` lines (or `key: value`), `#` and `!` comments, a key
    /// repeated for several values.
    pub fn parse_properties(text: &str, origin: &str) -> Result<Answers, WizardError> {
        let mut a = Answers::default();
        for (i, line) in text.lines().enumerate() {
            let t = line.trim();
            if t.is_empty() || t.starts_with('#') || t.starts_with('!') {
                continue;
            }
            let (k, v) = t.split_once('=').or_else(|| t.split_once(':')).ok_or_else(|| WizardError::Syntax {
                origin: origin.to_string(),
                line: i + 1,
                text: t.to_string(),
            })?;
            a.add(k.trim(), v.trim(), &format!("{origin}:{}", i + 1))?;
        }
        Ok(a)
    }

    /// `other`'s keys replace this one's.
    pub fn overlay(&mut self, other: Answers) {
        for (k, v) in other.values {
            self.values.insert(k, v);
        }
    }

    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.values.get(key).map(Vec::as_slice)
    }

    /// The answers as a properties file, without the passwords.
    pub fn to_properties(&self) -> String {
        let mut out = String::from(
            "# create-sync-pipe-config answers: run again with --propertiesFilePath FILE (passwords are not saved)\n",
        );
        for q in QUESTIONS {
            if q.secret {
                continue;
            }
            for v in self.values.get(q.key).into_iter().flatten() {
                out.push_str(&format!("{}={}\n", q.key, v));
            }
        }
        out
    }

    pub(super) fn take_for(&self, key: &str, class: &str) -> Vec<String> {
        self.values
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|v| v.split_once(':').filter(|(c, _)| c.trim().eq_ignore_ascii_case(class)))
            .map(|(_, v)| v.to_string())
            .collect()
    }
}
