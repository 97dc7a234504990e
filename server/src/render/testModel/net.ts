/** The layer helpers and seeded weights now live with the production graph builders (render/sdGraphs). */
export { FloatType, LinearRecord, Net } from '../sdGraphs/net';
export { randomNormal } from '../sdGraphs/randomWeights';
