//! Reading `page` and `max_results` ([`Paging::from_params`]).
//!
//! Atlas differs from Eve on purpose here: Eve silently falls back to the
//! defaults on bad values and reads `page=-2` as page 2; Atlas answers 400
//! naming the parameter. Like Eve, `max_results` defaults to
//! [`DEFAULT_MAX_RESULTS`] and values above [`MAX_RESULTS_CAP`] are capped
//! (not refused), and `page` has no upper bound (a page past the end is
//! empty).

use super::{Paging, QueryError, DEFAULT_MAX_RESULTS, MAX_RESULTS_CAP};

impl Paging {
    /// Paging from the raw `page` and `max_results` query parameters
    /// (`None` when absent).
    ///
    /// # Errors
    /// [`QueryError::Paging`] when either is present but not a positive
    /// integer written in decimal digits (`0`, `-1`, `abc`, `1.5`, empty).
    pub fn from_params(page: Option<&str>, max_results: Option<&str>) -> Result<Paging, QueryError> {
        let page = match page {
            None => 1,
            Some(raw) => positive(raw).ok_or_else(|| QueryError::Paging {
                param: "page",
                hint: " (1 is the first page)",
                value: raw.to_owned(),
            })?,
        };
        let max_results = match max_results {
            None => DEFAULT_MAX_RESULTS,
            Some(raw) => positive(raw)
                .ok_or_else(|| QueryError::Paging {
                    param: "max_results",
                    hint: " (values above 2000 are capped at 2000)",
                    value: raw.to_owned(),
                })?
                .min(MAX_RESULTS_CAP),
        };
        Ok(Paging { page, max_results })
    }
}

/// A positive decimal integer; numbers too large for `u64` saturate.
fn positive(raw: &str) -> Option<u64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = raw.parse::<u64>().unwrap_or(u64::MAX);
    (n > 0).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paging(page: Option<&str>, max: Option<&str>) -> Result<(u64, u64), String> {
        Paging::from_params(page, max)
            .map(|p| (p.page, p.max_results))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn from_params_defaults_to_page_one_of_500() {
        assert_eq!(paging(None, None), Ok((1, 500)));
    }

    #[test]
    fn from_params_reads_positive_integers() {
        assert_eq!(paging(Some("3"), Some("25")), Ok((3, 25)));
    }

    #[test]
    fn from_params_caps_max_results_at_2000() {
        assert_eq!(paging(None, Some("5000")), Ok((1, 2000)));
        assert_eq!(paging(None, Some("2000")), Ok((1, 2000)));
        assert_eq!(paging(None, Some("99999999999999999999999")), Ok((1, 2000)));
    }

    #[test]
    fn from_params_accepts_pages_past_any_end() {
        assert_eq!(paging(Some("1000000"), None), Ok((1_000_000, 500)));
        assert_eq!(paging(Some("99999999999999999999999"), None), Ok((u64::MAX, 500)));
    }

    #[test]
    fn from_params_refuses_page_zero_negative_or_not_a_number() {
        for bad in ["0", "-2", "abc", "1.5", "", " 1", "+1"] {
            let msg = paging(Some(bad), None).unwrap_err();
            assert!(msg.starts_with("`page` must be a positive integer"), "{msg}");
            assert!(msg.ends_with(&format!("got '{bad}'")), "{msg}");
        }
    }

    #[test]
    fn from_params_refuses_max_results_zero_or_not_a_number() {
        for bad in ["0", "-1", "ten", ""] {
            let msg = paging(None, Some(bad)).unwrap_err();
            assert!(
                msg.starts_with("`max_results` must be a positive integer"),
                "{msg}"
            );
            assert!(msg.contains("capped at 2000"), "{msg}");
        }
    }

    #[test]
    fn from_params_names_the_page_first_when_both_are_bad() {
        assert_eq!(
            Paging::from_params(Some("x"), Some("y")),
            Err(QueryError::Paging {
                param: "page",
                hint: " (1 is the first page)",
                value: "x".into()
            })
        );
    }

    #[test]
    fn offset_skips_the_previous_pages() {
        assert_eq!(
            Paging {
                page: 3,
                max_results: 25
            }
            .offset(),
            50
        );
        assert_eq!(Paging::all().offset(), 0);
    }
}
