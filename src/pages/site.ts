import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../config/load.ts';
import type { Brand } from './page-ui.tsx';

/**
 * The merchant-facing look from config (`product`): the names and support contact the pages use,
 * the stylesheet of brand colours (a file, because the CSP allows no inline style), and the logo.
 */

interface Logo {
  readonly body: Buffer;
  readonly type: 'image/png' | 'image/jpeg' | 'image/svg+xml';
}

export interface Site {
  readonly brand: Brand;
  /** Served as /_guard/assets/brand.css after guard.css: the brand's custom properties. */
  readonly brandCss: string;
  readonly logo: Logo | null;
}

interface ProductConfig {
  readonly name: string;
  readonly support: string;
  readonly logo?: string | undefined;
  readonly primary_color: string;
}

export const LOGO_URL = '/_guard/assets/logo';
const LOGO_MAX_BYTES = 256 * 1024;

/** The type a logo's bytes say it is (not its name): PNG, JPEG or SVG, else null. */
function sniffLogo(body: Buffer): Logo['type'] | null {
  if (body.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'image/png';
  if (body[0] === 0xff && body[1] === 0xd8 && body[2] === 0xff) return 'image/jpeg';
  const head = body.subarray(0, 4096).toString('utf8').replace(/^\uFEFF/, '');
  // An SVG document: optional XML declaration, comments and doctype, then the <svg> root.
  if (/^\s*(<\?xml[^>]*>\s*)?(<!--[\s\S]*?-->\s*|<!DOCTYPE[^>]*>\s*)*<svg[\s>]/i.test(head)) return 'image/svg+xml';
  return null;
}

function loadLogo(path: string, configFile: string): Logo {
  const file = resolve(dirname(configFile), path);
  let body: Buffer;
  try {
    body = readFileSync(file);
  } catch (error) {
    throw new ConfigError([`product.logo: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? String(error)})`]);
  }
  if (body.length === 0) throw new ConfigError([`product.logo: ${file} is empty`]);
  if (body.length > LOGO_MAX_BYTES) throw new ConfigError([`product.logo: ${file} is ${body.length} bytes; a logo may have at most ${LOGO_MAX_BYTES} (256 KiB)`]);
  const type = sniffLogo(body);
  if (!type) throw new ConfigError([`product.logo: ${file} is not a PNG, SVG or JPEG image`]);
  return { body, type };
}

/** The brand stylesheet: only validated values (a #rrggbb colour) go into it. */
function brandStylesheet(primary: string): string {
  return `:root { --primary: ${primary}; }\n`;
}

/** The parts of `login` the pages show: the identifier's label and where back links go. */
interface SiteLogin {
  readonly identifier: 'email' | 'username';
  readonly landing: string;
  readonly forgotPasswordUrl?: string | undefined;
}

export function buildSite(product: ProductConfig, configFile: string, login?: SiteLogin): Site {
  const logo = product.logo !== undefined ? loadLogo(product.logo, configFile) : null;
  return {
    brand: { product: product.name, support: product.support, logoUrl: logo ? LOGO_URL : null, ...(login ? { identifier: login.identifier, landing: login.landing, forgotPasswordUrl: login.forgotPasswordUrl } : {}) },
    brandCss: brandStylesheet(product.primary_color),
    logo,
  };
}
