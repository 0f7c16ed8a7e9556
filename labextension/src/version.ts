/** This lab extension's release: package.json's version and the Python package's (a test keeps the three equal). */
export const LABEXTENSION_VERSION = '0.1.0';
