//! `repro inspect`: per-layer output shapes on a real batch, parameters per layer, and the
//! padding and masking in effect, for each arm.

use comfy_table::{presets::UTF8_FULL_CONDENSED, Cell, CellAlignment, Table};

use crate::session::Session;

use super::Failure;

pub fn inspect(session: &Session, arm: Option<&str>) -> Result<(), Failure> {
    for i in session.inspect(arm)? {
        println!("{}", i.arm_id);
        let mut shapes = Table::new();
        shapes
            .load_preset(UTF8_FULL_CONDENSED)
            .set_header(vec!["layer", "output shape"]);
        for (layer, shape) in &i.shapes {
            shapes.add_row(vec![layer.clone(), format!("{shape:?}")]);
        }
        println!("{shapes}");
        let mut params = Table::new();
        params
            .load_preset(UTF8_FULL_CONDENSED)
            .set_header(vec!["parameters of", "count"]);
        for (layer, count) in &i.params {
            params.add_row(vec![
                Cell::new(layer),
                Cell::new(count).set_alignment(CellAlignment::Right),
            ]);
        }
        params.add_row(vec![
            Cell::new("total"),
            Cell::new(i.total_params).set_alignment(CellAlignment::Right),
        ]);
        println!("{params}");
        for line in &i.padding {
            println!("{line}");
        }
        println!();
    }
    Ok(())
}
