import * as assert from 'assert';
import { pyFloat, pyFloatRepr, pyInt } from '../../../server/src/service/semantics/pyNumbers';

/**
 * Python's float() and int() as A1111 applies them to LoRA arguments and weights, and repr() of a
 * float as its JSON output shows it. `undefined` is where Python raises ValueError (and A1111 then
 * drops every LoRA of the generation). Values are Python 3's.
 */
describe("Python's float(), int() and float repr", () => {
  it('float(): underscores only between digits, signs, bare dots, exponents, inf and nan', () => {
    const cases: [string, number | undefined][] = [
      ['1_000', 1000], ['1e1_0', 1e10], ['_1', undefined], ['1__0', undefined], ['1_', undefined], ['1_.5', undefined], ['1._5', undefined],
      ['1.', 1], ['.5', 0.5], ['5.e1', 50], ['1e-3', 0.001], ['.', undefined], ['1e', undefined], ['e5', undefined], ['0x10', undefined], ['', undefined],
      ['infinity', Infinity], ['+inf', Infinity], ['-Infinity', -Infinity], ['-nan', NaN], ['NaN', NaN], ['in', undefined], ['-0', -0],
    ];
    assert.deepStrictEqual(cases.map(([text]) => [text, pyFloat(text)]), cases);
  });

  it("float(): Python's whitespace around the number, Unicode decimal digits inside it", () => {
    const cases: [string, number | undefined][] = [
      [' 1.5\n', 1.5], ['1.5\x1c', 1.5], ['\u00851\u3000', 1], ['\ufeff1', undefined], ['1 5', undefined],
      ['１２', 12], ['١.٥', 1.5], ['١٫٥', undefined], ['𝟙𝟚.𝟝', 12.5],
    ];
    assert.deepStrictEqual(cases.map(([text]) => [text, pyFloat(text)]), cases);
  });

  it('int(): whole numbers only, in any decimal digits', () => {
    const cases: [string, number | undefined][] = [
      ['1_000', 1000], [' 7 ', 7], ['+3', 3], ['-0', -0], ['00', 0], ['٣', 3], ['𝟙𝟚', 12], ['1.0', undefined], ['1e3', undefined], ['', undefined], ['_1', undefined],
    ];
    assert.deepStrictEqual(cases.map(([text]) => [text, pyInt(text)]), cases);
  });

  it('repr(float): shortest digits, a .0 on whole numbers, exponents from 1e16 and below 1e-4', () => {
    const cases: [number, string][] = [
      [1, '1.0'], [100, '100.0'], [0.55, '0.55'], [1.5730000000000004, '1.5730000000000004'], [12345.678, '12345.678'],
      [1e15, '1000000000000000.0'], [1e16, '1e+16'], [1.2345678901234568e20, '1.2345678901234568e+20'],
      [0.0001, '0.0001'], [0.0001234, '0.0001234'], [1e-5, '1e-05'], [-2.5e-7, '-2.5e-07'],
      [0, '0.0'], [-0, '-0.0'], [NaN, 'NaN'], [Infinity, 'Infinity'], [-Infinity, '-Infinity'],
    ];
    assert.deepStrictEqual(cases.map(([value]) => [value, pyFloatRepr(value)]), cases);
  });
});
