//! A cron expression read field by field before the `cron` crate sees it, so that a
//! mistake is said in the user's terms (`minute 61 is out of range 0–59`) and about the
//! form they wrote, not the crate's internal 6-field one; and the `@hourly`-style macros
//! of standard cron, which the crate does not know.

/// One field of an expression: its name, its range, and the names it accepts.
#[derive(Debug, Clone, Copy)]
pub(super) struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// Quartz's "no specific value", which the crate accepts in the day fields.
    question_mark: bool,
}

const MONTHS: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAYS: &[&str] = &[
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];

const fn field(name: &'static str, min: u32, max: u32) -> Field {
    Field {
        name,
        min,
        max,
        names: &[],
        question_mark: false,
    }
}

const SECOND: Field = field("second", 0, 59);
const MINUTE: Field = field("minute", 0, 59);
const HOUR: Field = field("hour", 0, 23);
const DAY: Field = Field {
    question_mark: true,
    ..field("day of month", 1, 31)
};
const MONTH: Field = Field {
    names: MONTHS,
    ..field("month", 1, 12)
};
const YEAR: Field = field("year", 1970, 2099);

/// Standard cron's weekday: 0-7, Sunday being 0 and 7.
const WEEKDAY_STANDARD: Field = Field {
    names: WEEKDAYS,
    question_mark: true,
    ..field("weekday", 0, 7)
};
/// The `cron` crate's weekday (6 and 7 fields): 1-7, Sunday being 1.
const WEEKDAY_CRATE: Field = Field {
    names: WEEKDAYS,
    question_mark: true,
    ..field("weekday", 1, 7)
};

/// The fields of a 5-, 6- or 7-field expression, in order; `None` for another count.
pub(super) fn layout(fields: usize) -> Option<&'static [Field]> {
    const FIVE: [Field; 5] = [MINUTE, HOUR, DAY, MONTH, WEEKDAY_STANDARD];
    const SIX: [Field; 6] = [SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY_CRATE];
    const SEVEN: [Field; 7] = [SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY_CRATE, YEAR];
    match fields {
        5 => Some(&FIVE),
        6 => Some(&SIX),
        7 => Some(&SEVEN),
        _ => None,
    }
}

/// Standard cron's macros as the 5 fields they stand for (`@reboot` has none: it is
/// refused with its own message).
pub(super) fn expand_macro(expression: &str) -> Option<Result<&'static str, String>> {
    let name = expression.trim().strip_prefix('@')?;
    Some(match name.to_ascii_lowercase().as_str() {
        "hourly" => Ok("0 * * * *"),
        "daily" | "midnight" => Ok("0 0 * * *"),
        "weekly" => Ok("0 0 * * 0"),
        "monthly" => Ok("0 0 1 * *"),
        "yearly" | "annually" => Ok("0 0 1 1 *"),
        "reboot" => Err("@reboot is not a schedule: the daemon syncs at start anyway".into()),
        _ => Err(format!(
            "`@{name}` is not one of @hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually"
        )),
    })
}

/// Checks one field's text: `*`, values, ranges `a-b`, steps `/n`, lists `a,b`, and for
/// months and weekdays their names. The error names the field and what is wrong.
pub(super) fn check(field: &Field, text: &str) -> Result<(), String> {
    let name = field.name;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((range, step)) => (range, Some(step)),
            None => (part, None),
        };
        if let Some(step) = step {
            match step.parse::<u32>() {
                Ok(n) if n >= 1 && n <= field.max => {}
                Ok(n) => {
                    return Err(format!(
                        "{name} step {n} is out of range 1–{}",
                        field.max.max(1)
                    ));
                }
                Err(_) => return Err(format!("{name} step `{step}` is not a number")),
            }
        }
        if range == "*" || (range == "?" && field.question_mark && step.is_none()) {
            continue;
        }
        let (from, to) = match range.split_once('-') {
            Some((from, to)) => (from, Some(to)),
            None => (range, None),
        };
        let from = value(field, from)?;
        if let Some(to) = to {
            let to = value(field, to)?;
            // Numbers only: how a range of names wraps is the crate's to say.
            if let (Some(from), Some(to)) = (from, to)
                && to < from
            {
                return Err(format!("{name} range `{range}` runs backwards"));
            }
        }
    }
    Ok(())
}

/// A value of `field`: a number in its range (returned), or one of its names (three
/// letters or in full, any case).
fn value(field: &Field, text: &str) -> Result<Option<u32>, String> {
    let name = field.name;
    if let Ok(n) = text.parse::<u32>() {
        if n < field.min || n > field.max {
            return Err(format!(
                "{name} {n} is out of range {}–{}",
                field.min, field.max
            ));
        }
        return Ok(Some(n));
    }
    let lower = text.to_ascii_lowercase();
    if field
        .names
        .iter()
        .any(|full| *full == lower || (lower.len() == 3 && full.starts_with(&lower)))
    {
        return Ok(None);
    }
    let expected = if field.names.is_empty() {
        format!("a number {}–{}", field.min, field.max)
    } else {
        format!(
            "a number {}–{} or a name ({}–{})",
            field.min,
            field.max,
            &field.names[0][..3].to_uppercase(),
            &field.names[field.names.len() - 1][..3].to_uppercase()
        )
    };
    if text.is_empty() {
        Err(format!("{name} has an empty value; expected {expected}"))
    } else {
        Err(format!("{name} `{text}` is not {expected}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn five(expression: &str) -> Result<(), String> {
        let parts: Vec<&str> = expression.split_whitespace().collect();
        for (field, text) in layout(5).unwrap().iter().zip(parts) {
            check(field, text)?;
        }
        Ok(())
    }

    #[test]
    fn values_out_of_range_are_named_with_their_field_and_range() {
        assert_eq!(
            five("61 * * * *"),
            Err("minute 61 is out of range 0–59".into())
        );
        assert_eq!(
            five("0 24 * * *"),
            Err("hour 24 is out of range 0–23".into())
        );
        assert_eq!(
            five("0 0 0 * *"),
            Err("day of month 0 is out of range 1–31".into())
        );
        assert_eq!(
            five("0 0 * 13 *"),
            Err("month 13 is out of range 1–12".into())
        );
        assert_eq!(
            five("0 0 * * 8"),
            Err("weekday 8 is out of range 0–7".into())
        );
        assert_eq!(
            five("*/0 * * * *"),
            Err("minute step 0 is out of range 1–59".into())
        );
        assert_eq!(
            five("0 5-70 * * *"),
            Err("hour 70 is out of range 0–23".into())
        );
        assert_eq!(
            five("30-10 * * * *"),
            Err("minute range `30-10` runs backwards".into())
        );
        assert_eq!(
            five("x * * * *"),
            Err("minute `x` is not a number 0–59".into())
        );
        assert_eq!(
            five("0 0 * * FUNDAY"),
            Err("weekday `FUNDAY` is not a number 0–7 or a name (SUN–SAT)".into())
        );
        assert_eq!(
            five("0,,5 * * * *"),
            Err("minute has an empty value; expected a number 0–59".into())
        );
    }

    #[test]
    fn what_standard_cron_accepts_passes() {
        for ok in [
            "*/15 * * * *",
            "0 9 * * 1-5",
            "0,30 8-18 * * MON-FRI",
            "0 9 1 jan,jul *",
            "0 9 * * sunday",
            "5 4 * * 7",
            "0 0 1-31/2 * *",
        ] {
            assert_eq!(five(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn macros_stand_for_their_five_fields() {
        assert_eq!(expand_macro("@hourly"), Some(Ok("0 * * * *")));
        assert_eq!(expand_macro("@Daily"), Some(Ok("0 0 * * *")));
        assert_eq!(expand_macro("@weekly"), Some(Ok("0 0 * * 0")));
        assert_eq!(expand_macro("@monthly"), Some(Ok("0 0 1 * *")));
        assert_eq!(expand_macro("@annually"), Some(Ok("0 0 1 1 *")));
        assert!(
            expand_macro("@reboot")
                .unwrap()
                .unwrap_err()
                .contains("syncs at start")
        );
        assert!(
            expand_macro("@often")
                .unwrap()
                .unwrap_err()
                .contains("@hourly")
        );
        assert_eq!(expand_macro("0 * * * *"), None);
    }
}
