//! Channel ranges as the command line and configs write them: `A..B` (B excluded), either end
//! left out for the layer's first or last channel (`..16`, `8..`, `..`).

use std::str::FromStr;

use crate::error::{Error, Result};

/// A range of channels, resolved against a layer's channel count by [`ChannelRange::within`]
/// (strict) or [`ChannelRange::clipped`] (for several layers at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChannelRange {
    /// The first channel; `None`: 0.
    pub start: Option<usize>,
    /// One past the last; `None`: the layer's channel count.
    pub end: Option<usize>,
}

impl FromStr for ChannelRange {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        let bad = || {
            Error::Invalid(format!(
                "channels `{text}` must be a range A..B (B excluded; either end may be left out), e.g. 0..16"
            ))
        };
        let (a, b) = text.split_once("..").ok_or_else(bad)?;
        let end = |s: &str| -> Result<Option<usize>> {
            match s.trim() {
                "" => Ok(None),
                s => s.parse().map(Some).map_err(|_| bad()),
            }
        };
        let range = Self {
            start: end(a)?,
            end: end(b)?,
        };
        match (range.start, range.end) {
            (Some(a), Some(b)) if a >= b => Err(bad()),
            _ => Ok(range),
        }
    }
}

impl ChannelRange {
    /// `[first, end)` within a layer of `channels` channels; an error when the range reaches
    /// past them or is empty.
    pub fn within(&self, channels: usize) -> Result<[usize; 2]> {
        let (a, b) = (self.start.unwrap_or(0), self.end.unwrap_or(channels));
        if a >= b || b > channels {
            return Err(Error::Invalid(format!(
                "channels {a}..{b} are out of range: the layer has channels 0..{channels}"
            )));
        }
        Ok([a, b])
    }

    /// `[first, end)` clipped to a layer of `channels` channels; `None` when nothing is left.
    pub fn clipped(&self, channels: usize) -> Option<[usize; 2]> {
        let a = self.start.unwrap_or(0).min(channels);
        let b = self.end.unwrap_or(channels).min(channels);
        (a < b).then_some([a, b])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_grammars_are_one() {
        let r: ChannelRange = "2..5".parse().unwrap();
        assert_eq!(r.within(8).unwrap(), [2, 5]);
        assert_eq!(
            "..3".parse::<ChannelRange>().unwrap().within(8).unwrap(),
            [0, 3]
        );
        assert_eq!(
            "6..".parse::<ChannelRange>().unwrap().within(8).unwrap(),
            [6, 8]
        );
        assert_eq!(
            "4..40".parse::<ChannelRange>().unwrap().clipped(8),
            Some([4, 8])
        );
        assert_eq!("10..40".parse::<ChannelRange>().unwrap().clipped(8), None);
        assert!("4..40".parse::<ChannelRange>().unwrap().within(8).is_err());
        for bad in ["5", "5..2", "a..b", "3..3"] {
            assert!(bad.parse::<ChannelRange>().is_err(), "{bad}");
        }
    }
}
