//! The terminal of the interactive tools, through dialoguer: prompts on stderr, defaults shown, a refused
//! answer asked again with the reason, passwords never echoed.

use ferrosync::prompt::{PromptError, Prompter};

/// The terminal, through dialoguer: prompts on stderr, defaults shown, passwords not echoed.
pub struct Terminal;

fn term_err(e: dialoguer::Error) -> PromptError {
    PromptError::Terminal(e.to_string())
}

impl Prompter for Terminal {
    fn note(&mut self, text: &str) {
        eprintln!("{text}");
    }

    fn input(
        &mut self,
        prompt: &str,
        default: Option<&str>,
        check: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<String, PromptError> {
        loop {
            let mut input = dialoguer::Input::<String>::new().with_prompt(prompt).allow_empty(true);
            if let Some(d) = default {
                input = input.default(d.to_string()).show_default(true);
            }
            let answer = input.validate_with(|s: &String| check(s).map(|_| ())).interact_text().map_err(term_err)?;
            // The default is not run through the validator: check it here, and say why when it fails.
            match check(&answer) {
                Ok(v) => return Ok(v),
                Err(reason) => eprintln!("error: {reason}"),
            }
        }
    }

    fn password(&mut self, prompt: &str) -> Result<String, PromptError> {
        dialoguer::Password::new().with_prompt(prompt).allow_empty_password(false).interact().map_err(term_err)
    }

    fn confirm(&mut self, prompt: &str, default: bool) -> Result<bool, PromptError> {
        dialoguer::Confirm::new().with_prompt(prompt).default(default).interact().map_err(term_err)
    }
}
