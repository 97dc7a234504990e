/**
 * The X/Y/Z plot's pure part: axis specs (`Steps: 10-30 [5]`) read with A1111's value syntax, and the grid's
 * cells planned as whole `.prompt` texts in the order they should render. The CLI's `grid` and the
 * extension's panel use it through this module.
 */
export { parseAxisSpec, MAX_AXIS_VALUES } from './parseAxisSpec';
export { planGrid, DEFAULT_MAX_CELLS } from './planGrid';
export { XYZ_AXIS_TYPES, findAxisType } from './axisTypes';
export { suggestAxisSpec, suggestAxisSpecs } from './axisSuggestions';
export type { XyzAxisTypeInfo, AxisValueKind, AxisLabelStyle } from './axisTypes';
export { GridSpecError } from './gridTypes';
export type { XyzAxisType, XyzAxisName, GridAxis, GridCellPlan, GridPlan, GridPlanContext } from './gridTypes';
