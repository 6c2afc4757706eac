import { describe, expect, it } from 'vitest';
import { containerName, parseContainerName, sandboxContainerName, withConflictSuffix } from '../../../agent/runtime/docker/names.js';

const sandbox = { name: 'web-0', namespace: 'default', uid: '1b4e28ba-2fa1-11d2-883f-0016d3cca427', attempt: 2 };

describe('container names', () => {
  it('names a sandbox k8s_POD_<pod>_<ns>_<uid>_<attempt>', () => {
    expect(sandboxContainerName(sandbox)).toBe('k8s_POD_web-0_default_1b4e28ba-2fa1-11d2-883f-0016d3cca427_2');
  });

  it('names a container k8s_<container>_<pod>_<ns>_<uid>_<attempt> with the container attempt', () => {
    expect(containerName({ name: 'nginx', attempt: 5 }, sandbox)).toBe('k8s_nginx_web-0_default_1b4e28ba-2fa1-11d2-883f-0016d3cca427_5');
  });

  it('parses both back, with or without the leading slash Docker adds', () => {
    expect(parseContainerName(`/${sandboxContainerName(sandbox)}`)).toEqual({
      kind: 'sandbox',
      pod: { name: 'web-0', namespace: 'default', uid: sandbox.uid },
      attempt: 2,
    });
    expect(parseContainerName(containerName({ name: 'nginx', attempt: 5 }, sandbox))).toEqual({
      kind: 'container',
      pod: { name: 'web-0', namespace: 'default', uid: sandbox.uid },
      containerName: 'nginx',
      attempt: 5,
    });
  });

  it('parses a name that carries a conflict suffix', () => {
    const renamed = withConflictSuffix(containerName({ name: 'app', attempt: 0 }, { ...sandbox, name: 'a.b' }));
    expect(renamed).toMatch(/^k8s_app_a\.b_default_.+_0_[0-9a-f]{8}$/);
    expect(parseContainerName(renamed)).toMatchObject({ kind: 'container', containerName: 'app', attempt: 0, pod: { name: 'a.b' } });
  });

  it.each(['/eager_turing', 'k8s_POD_a_b_c', 'k8s_x_a_b_c_notanumber', 'other_x_a_b_c_1', 'k8s__a_b_c_1', 'k8s_a_b_c_d_1_x_y'])(
    'returns undefined for a name it did not make: %s',
    (name) => {
      expect(parseContainerName(name)).toBeUndefined();
    },
  );
});
