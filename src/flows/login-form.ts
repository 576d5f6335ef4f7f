import type * as cheerio from 'cheerio';
import { lazyModule } from '../core/lazy-module.ts';

// The HTML parser loads with the first form login (form replay is one login mode among several).
const cheerioModule = lazyModule<typeof cheerio>('cheerio');
import type { AnyNode, Element } from 'domhandler';

/**
 * Reads a form out of an upstream page, so the sidecar can submit it as a browser would: the
 * hidden fields frameworks put there (Django's csrfmiddlewaretoken, Rails' authenticity_token,
 * Laravel's _token, Spring's _csrf, `next`) are copied into the replayed request.
 */

export interface FormQuery {
  /** A CSS selector naming the form (or an element inside it). */
  readonly selector?: string | undefined;
  /** Default choice for a login: the form that holds this password field (or any password input). */
  readonly passwordField?: string | undefined;
  /** Default choice for a logout: the form whose action is this path. */
  readonly actionPath?: string | undefined;
  /** `auto`: every hidden input; or the names of the fields to copy. */
  readonly copy: 'auto' | readonly string[];
}

export interface FoundForm {
  /** The form's action attribute as written ('' when absent). */
  readonly action: string;
  readonly method: string;
  /** Name/value pairs to send, in the form's order. */
  readonly fields: ReadonlyArray<readonly [string, string]>;
}

export type FormLookup = { readonly ok: true; readonly form: FoundForm } | { readonly ok: false; readonly problem: string };

const pathOf = (action: string): string => {
  try {
    return new URL(action, 'http://upstream.invalid/').pathname;
  } catch {
    return action;
  }
};

function chooseForm($: cheerio.CheerioAPI, query: FormQuery): cheerio.Cheerio<Element> | string {
  if (query.selector !== undefined) {
    let picked: cheerio.Cheerio<AnyNode>;
    try {
      picked = $(query.selector).first();
    } catch {
      return `the selector "${query.selector}" is not valid CSS`;
    }
    if (picked.length === 0) return `no element matches the selector "${query.selector}"`;
    const form = picked.is('form') ? picked : picked.closest('form');
    return form.length > 0 ? (form as unknown as cheerio.Cheerio<Element>) : `the selector "${query.selector}" is not a form or inside one`;
  }
  const forms = $('form');
  if (forms.length === 0) return 'the page has no form';
  if (query.passwordField !== undefined) {
    const named = $(`input[name="${query.passwordField.replace(/["\\]/g, '\\$&')}"]`).closest('form');
    if (named.length > 0) return named.first() as cheerio.Cheerio<Element>;
    const typed = $('input[type=password]').closest('form');
    if (typed.length > 0) return typed.first() as cheerio.Cheerio<Element>;
    return 'no form on the page has a password field';
  }
  if (query.actionPath !== undefined) {
    const target = pathOf(query.actionPath);
    const matching = forms.filter((_, el) => pathOf($(el).attr('action') ?? '') === target);
    if (matching.length === 1) return matching.first();
    if (matching.length > 1) return `${matching.length} forms post to ${target}: name one with a selector`;
  }
  if (forms.length === 1) return forms.first();
  return `the page has ${forms.length} forms: name one with a selector`;
}

export function findForm(html: string, query: FormQuery): FormLookup {
  const $ = cheerioModule().load(html);
  const form = chooseForm($, query);
  if (typeof form === 'string') return { ok: false, problem: form };
  const fields: Array<readonly [string, string]> = [];
  if (query.copy === 'auto') {
    form.find('input[type=hidden]').each((_, el) => {
      const input = $(el);
      const name = input.attr('name');
      if (name && input.attr('disabled') === undefined) fields.push([name, input.attr('value') ?? '']);
    });
  } else {
    for (const name of query.copy) {
      const field = form.find(`[name="${name.replace(/["\\]/g, '\\$&')}"]`).first();
      if (field.length === 0) return { ok: false, problem: `the form has no field named "${name}"` };
      const value = field.is('textarea') ? field.text() : field.is('select') ? (field.find('option[selected]').attr('value') ?? field.find('option').first().attr('value') ?? '') : (field.attr('value') ?? '');
      fields.push([name, value]);
    }
  }
  return { ok: true, form: { action: form.attr('action') ?? '', method: (form.attr('method') ?? 'get').toUpperCase(), fields } };
}
