//! Asking a user on a terminal, without the terminal: the [`Prompter`] trait (implemented by the tools over
//! dialoguer, and by tests), and numbered menus on top of it ([`choose`], [`pick`]). Used by the sync pipe
//! wizard ([`crate::wizard`]) and by dsconfig's interactive menu.

/// Why asking stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PromptError {
    #[error("the terminal: {0}")]
    Terminal(String),
    #[error("stopped without writing anything")]
    Cancelled,
}

/// Asks the user; implemented by the tool over dialoguer, and by tests.
pub trait Prompter {
    /// Shows a message.
    fn note(&mut self, text: &str);
    /// Asks for one line of text, showing `default`; the tool re-asks while `check` returns `Err` (the reason),
    /// and returns `check`'s value.
    fn input(
        &mut self,
        prompt: &str,
        default: Option<&str>,
        check: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<String, PromptError>;
    /// Asks for a password without echoing it.
    fn password(&mut self, prompt: &str) -> Result<String, PromptError>;
    /// Asks yes or no.
    fn confirm(&mut self, prompt: &str, default: bool) -> Result<bool, PromptError>;
}

/// Asks a numbered menu through `input`: the answer is the number or the item's key.
pub fn choose(
    p: &mut dyn Prompter,
    title: &str,
    items: &[(&str, &str)],
    default: Option<&str>,
) -> Result<String, PromptError> {
    let mut text = format!("{title}:\n");
    for (i, (_, label)) in items.iter().enumerate() {
        text.push_str(&format!("  {}) {label}\n", i + 1));
    }
    p.note(&text);
    let keys: Vec<String> = items.iter().map(|(k, _)| k.to_string()).collect();
    let default_number = default.and_then(|d| items.iter().position(|(k, _)| *k == d)).map(|i| (i + 1).to_string());
    p.input("Enter a choice", default_number.as_deref(), &|s| pick(s, &keys))
}

/// `s` as a number from 1 or one of `keys`.
pub fn pick(s: &str, keys: &[String]) -> Result<String, String> {
    let t = s.trim();
    if let Ok(n) = t.parse::<usize>() {
        if n >= 1 && n <= keys.len() {
            return Ok(keys[n - 1].clone());
        }
        return Err(format!("{n} is not in the list: enter a number from 1 to {}", keys.len()));
    }
    keys.iter().find(|k| k.eq_ignore_ascii_case(t)).cloned().ok_or_else(|| {
        format!("'{t}' is not a choice: enter a number from 1 to {}, or one of {}", keys.len(), keys.join(", "))
    })
}
