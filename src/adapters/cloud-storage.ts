// Cloud Storage writes for the evidence bundle. The only file that imports
// @google-cloud/storage. Objects are created once (ifGenerationMatch: 0): a
// redelivered finding never overwrites what the first delivery kept.
import { createRequire } from 'node:module';
import type { StorageOptions } from '@google-cloud/storage';
import type { ObjectStore } from '../core/ports.ts';

// The CommonJS build: the ESM build reads its own package.json through a .cjs
// helper that Jest's ESM mode resolves to undefined (user agent → TypeError).
// Both builds ship in the package; the CJS one behaves the same everywhere.
const { Storage } = createRequire(import.meta.url)('@google-cloud/storage') as typeof import('@google-cloud/storage');

/**
 * STORAGE_EMULATOR_HOST (read by the client itself) or STORAGE_API_ENDPOINT
 * point the client at a loopback fake or emulator: test/dev settings. With a
 * custom endpoint the client sends no credentials.
 */
export function storageClientOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): StorageOptions {
  const options: StorageOptions = {};
  const project = env.GOOGLE_CLOUD_PROJECT ?? env.GCLOUD_PROJECT;
  if (project) options.projectId = project;
  if (env.STORAGE_API_ENDPOINT) options.apiEndpoint = env.STORAGE_API_ENDPOINT;
  return options;
}

function httpStatus(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function createObjectStore(bucketName: string, options: StorageOptions = {}): ObjectStore {
  const bucket = new Storage(options).bucket(bucketName);
  return {
    bucket: bucketName,
    async createIfAbsent(name, bytes, contentType) {
      try {
        await bucket.file(name).save(Buffer.from(bytes), {
          resumable: false,
          contentType,
          preconditionOpts: { ifGenerationMatch: 0 },
          // md5 is checked against the md5Hash the service returns for what it stored.
          validation: 'md5',
        });
        return 'created';
      } catch (error) {
        if (httpStatus(error) === 412) return 'exists';
        throw error;
      }
    },
    async read(name) {
      const [contents] = await bucket.file(name).download({ validation: false });
      return new Uint8Array(contents);
    },
  };
}
