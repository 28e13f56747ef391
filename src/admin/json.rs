//! The JSON the admin tool prints: one compact line per `--format json` document, and
//! fastjson's pretty layout (tab indentation, no space after `:`) that RocketMQ's
//! `toJson(true)` produces, applied to compact JSON from the protocol crate's encoders.

/// Print `value` as one line of compact JSON (the `--format json` output).
pub(crate) fn print(value: &serde_json::Value) {
    println!("{value}");
}

/// Re-indent compact JSON the way fastjson's `PrettyFormat` does.
pub(crate) fn pretty(compact: &str) -> String {
    let mut output = String::with_capacity(compact.len() * 2);
    let mut depth = 0_usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut characters = compact.chars().peekable();
    while let Some(character) = characters.next() {
        if in_string {
            output.push(character);
            if escaped {
                escaped = false;
            } else if character == '\\' {
                escaped = true;
            } else if character == '"' {
                in_string = false;
            }
            continue;
        }
        match character {
            '"' => {
                in_string = true;
                output.push(character);
            }
            '{' | '[' => {
                output.push(character);
                let closing = if character == '{' { '}' } else { ']' };
                if characters.peek() == Some(&closing) {
                    continue;
                }
                depth += 1;
                newline(&mut output, depth);
            }
            '}' | ']' => {
                if !matches!(output.chars().last(), Some('{' | '[')) {
                    depth = depth.saturating_sub(1);
                    newline(&mut output, depth);
                }
                output.push(character);
            }
            ',' => {
                output.push(',');
                newline(&mut output, depth);
            }
            other => output.push(other),
        }
    }
    output
}

fn newline(output: &mut String, depth: usize) {
    output.push('\n');
    for _ in 0..depth {
        output.push('\t');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_indents_with_tabs_and_keeps_empty_containers_and_strings_intact() {
        let text = pretty(r#"{"a":[1,2],"b":{},"c":"x,{y}"}"#);
        assert_eq!(
            text,
            "{\n\t\"a\":[\n\t\t1,\n\t\t2\n\t],\n\t\"b\":{},\n\t\"c\":\"x,{y}\"\n}"
        );
    }
}
