// react-inlinesvg fetches the SVG over the network; icons are irrelevant here.
const React = require('react');
module.exports = function InlineSVG(props) {
  return React.createElement('svg', { 'data-src': props.src, className: props.className });
};
module.exports.default = module.exports;
