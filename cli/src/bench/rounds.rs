//! Several rounds of a comparison, reduced to one figure each.
//!
//! This machine's speed drifts by 15–20 % within half an hour, and both
//! systems drift with it, so the ratio of one round carries that noise.
//! Rounds alternate the two systems, and each figure is the median of its
//! rounds.

use std::collections::BTreeMap;

use super::figures::Figure;

/// Per figure, the median of its values over `rounds` (the mean of the two
/// middle values for an even count), in the order figures first appear.
pub fn median(rounds: Vec<Vec<Figure>>) -> Vec<Figure> {
    let mut order = Vec::new();
    let mut values: BTreeMap<_, (Figure, Vec<f64>)> = BTreeMap::new();
    for figure in rounds.into_iter().flatten() {
        let key = figure.key();
        let value = figure.value;
        values
            .entry(key.clone())
            .or_insert_with(|| {
                order.push(key);
                (figure, Vec::new())
            })
            .1
            .push(value);
    }
    order
        .into_iter()
        .filter_map(|key| values.remove(&key))
        .map(|(mut figure, mut v)| {
            v.sort_by(f64::total_cmp);
            let mid = v.len() / 2;
            figure.value = if v.len() % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 };
            figure
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::figures::{Mode, Path};

    fn figure(name: &str, value: f64) -> Figure {
        Figure {
            figure: name.into(),
            size: 128,
            replicas: 3,
            path: Path::Grpc,
            mode: Mode::Default,
            unit: "msg/s",
            value,
        }
    }

    #[test]
    fn each_figure_is_the_median_of_its_rounds_in_first_seen_order() {
        let rounds = vec![
            vec![figure("b", 10.0), figure("a", 5.0)],
            vec![figure("b", 30.0), figure("a", 1.0), figure("only_once", 7.0)],
            vec![figure("b", 20.0), figure("a", 3.0)],
            vec![figure("a", 100.0)],
        ];
        let got: Vec<(String, f64)> = median(rounds).into_iter().map(|f| (f.figure, f.value)).collect();
        assert_eq!(got, vec![("b".into(), 20.0), ("a".into(), 4.0), ("only_once".into(), 7.0)]);
    }
}
