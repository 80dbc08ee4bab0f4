/**
 * Tiny DOM helpers (the panels are small; no React needed).
 */

export type Child = Node | string | number | null | undefined | false;

export interface IElementProps {
  className?: string;
  testid?: string;
  title?: string;
  attrs?: Record<string, string>;
}

/**
 * Create an element with optional class, `data-testid`, title, attributes and children.
 * Strings are inserted as text (never parsed as HTML).
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: IElementProps = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (props.className) {
    node.className = props.className;
  }
  if (props.testid) {
    node.dataset.testid = props.testid;
  }
  if (props.title) {
    node.title = props.title;
  }
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/**
 * Traffic-light dot; `state` is one of `ok`, `error`, `warning`, `unknown`.
 */
export function dot(state: DotState, label: string): HTMLSpanElement {
  return h('span', {
    className: 'jp-MLPlat-dot',
    attrs: { 'data-state': state, role: 'img', 'aria-label': label }
  });
}

export type DotState = 'ok' | 'error' | 'warning' | 'unknown';
