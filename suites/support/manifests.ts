/**
 * Where the suites keep their Kubernetes manifests (suites/manifests/). The framework knows no manifest folder:
 * the suites pass this one to the lab fixture (Kube's manifestDir) and to the object builders.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const MANIFEST_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'manifests');
