/**
 * The text an XMP packet carries where image tools put generation data: `exif:UserComment`
 * and `dc:description` (each an `rdf:Alt` of `rdf:li` items, or a plain attribute/element).
 * XMP is XML, but only these two properties are read, so a bounded pattern match over the
 * packet (packets are capped by their container) is enough; entities are decoded as XML does.
 */
const PROPERTIES = ['exif:UserComment', 'dc:description'] as const;

export function readXmpText(packet: string): { property: string; text: string } | undefined {
  for (const property of PROPERTIES) {
    const text = propertyText(packet, property);
    if (text !== undefined && text.trim() !== '') return { property, text };
  }
  return undefined;
}

function propertyText(packet: string, property: string): string | undefined {
  const attribute = new RegExp(`\\s${property}\\s*=\\s*("([^"]*)"|'([^']*)')`).exec(packet);
  if (attribute) return decodeXmlEntities(attribute[2] ?? attribute[3] ?? '');
  const open = packet.indexOf(`<${property}`);
  if (open < 0) return undefined;
  const close = packet.indexOf(`</${property}>`, open);
  if (close < 0) return undefined;
  const inner = packet.slice(packet.indexOf('>', open) + 1, close);
  const item = /<rdf:li\b[^>]*>([\s\S]*?)<\/rdf:li>/.exec(inner);
  const raw = item ? item[1] : inner.includes('<') ? '' : inner;
  return decodeXmlEntities(raw.replace(/^<!\[CDATA\[([\s\S]*)\]\]>$/, '$1'));
}

export function decodeXmlEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_m, e: string) => {
    if (e === 'amp') return '&';
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    const code = e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : '\ufffd';
  });
}
