// react-inlinesvg fetches the SVG over the network; icons are irrelevant here, but the
// event handlers and focusability a Tooltip gives its icon are kept so tooltips open.
const React = require('react');
module.exports = function InlineSVG(props) {
  const pass = Object.fromEntries(Object.entries(props).filter(([k]) => /^on[A-Z]|^aria-|^tabIndex$|^role$/.test(k)));
  return React.createElement('svg', { 'data-src': props.src, className: props.className, ...pass });
};
module.exports.default = module.exports;
