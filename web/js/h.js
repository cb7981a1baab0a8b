// The component library the pages are written with: Preact and its hooks, with htm for markup in
// tagged templates (no build step). Values interpolated into a template are always text or
// attribute values, never parsed as HTML, so what people typed cannot become markup.

import { h, render, Fragment } from '../vendor/preact.mjs';
import { useState, useEffect, useRef, useMemo, useCallback } from '../vendor/preact-hooks.mjs';
import htm from '../vendor/htm.mjs';

export const html = htm.bind(h);
export { render, Fragment, useState, useEffect, useRef, useMemo, useCallback };
