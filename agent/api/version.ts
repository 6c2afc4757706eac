// nodelet's own version: in the Node's nodeInfo, the apiserver client's user agent,
// and the tags of the images it builds locally. A leaf, so the engine folder can
// read it without importing the agent's configuration.
export const VERSION = '0.1.0';
