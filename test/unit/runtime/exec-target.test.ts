import { describe, expect, it } from 'vitest';
import {
  DOCKER_DEFAULT_PATH,
  cgroupBelongsTo,
  execEnvironment,
  isSameProcess,
  numericUser,
  parseCredentials,
  parseStartTime,
  planExec,
  type InspectFacts,
  type ProcFacts,
} from '../../../agent/runtime/docker/exec/exec-target.js';

const ID = 'a'.repeat(64);

/** /proc/<pid>/stat with the given start time; the command name holds a space and a parenthesis, as names may. */
function stat(pid: number, startTime: number): string {
  const after = ['S', '1', '1', '1', '0', '-1', '4194560', ...Array<string>(12).fill('0'), String(startTime), '1000', '200'];
  return `${pid} (my (app) x) ${after.join(' ')}\n`;
}

function statusText(uid: number, gid: number, groups: number[]): string {
  return `Name:\tsleep\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t${gid}\t${gid}\t${gid}\t${gid}\nGroups:\t${groups.join(' ')} \n`;
}

function procFacts(overrides: Partial<ProcFacts> = {}): ProcFacts {
  return {
    stat: stat(4242, 777),
    status: statusText(0, 0, [0]),
    cgroup: `9:name=systemd:/docker/${ID}\n8:pids:/docker/${ID}\n`,
    environ: 'PATH=/bin\0HOME=/root\0HOSTNAME=web\0',
    ...overrides,
  };
}

function inspect(overrides: Partial<InspectFacts> = {}): InspectFacts {
  return {
    Id: ID,
    State: { Running: true, Paused: false, Restarting: false, Pid: 4242 },
    Config: { User: '', Env: ['GREETING=hi', 'PATH=/usr/bin:/bin'], WorkingDir: '/srv', Hostname: 'web-1' },
    ...overrides,
  };
}

describe('/proc parsing', () => {
  it('reads the start time past a command name holding spaces and parentheses', () => {
    expect(parseStartTime(stat(1, 123456))).toBe(123456);
    expect(parseStartTime('garbage')).toBeUndefined();
  });

  it('reads the real uid, gid and supplementary groups', () => {
    expect(parseCredentials(statusText(1000, 2000, [2000, 5]))).toEqual({ uid: 1000, gid: 2000, groups: [2000, 5] });
    expect(parseCredentials('Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nGroups:\t\n')).toEqual({ uid: 0, gid: 0, groups: [] });
    expect(parseCredentials('Name:\tx\n')).toBeUndefined();
  });

  it('places a process in a container by cgroupfs or systemd cgroup paths', () => {
    expect(cgroupBelongsTo(`0::/system.slice/docker-${ID}.scope\n`, ID)).toBe(true);
    expect(cgroupBelongsTo(`4:memory:/docker/${ID}\n`, ID)).toBe(true);
    expect(cgroupBelongsTo(`4:memory:/docker/${'b'.repeat(64)}\n`, ID)).toBe(false);
    expect(cgroupBelongsTo('4:memory:/\n', '')).toBe(false);
  });

  it('tells the same process from a reused pid (start time) and from a process of another container (cgroup)', () => {
    const identity = { containerId: ID, pid: 4242, startTime: 777 };
    expect(isSameProcess(identity, { stat: stat(4242, 777), cgroup: `1:pids:/docker/${ID}` })).toBe(true);
    expect(isSameProcess(identity, { stat: stat(4242, 999), cgroup: `1:pids:/docker/${ID}` })).toBe(false);
    expect(isSameProcess(identity, { stat: stat(4242, 777), cgroup: '1:pids:/user.slice' })).toBe(false);
  });
});

describe('numericUser and execEnvironment', () => {
  it('reads root, uid and uid:gid, and leaves names to Docker', () => {
    expect(numericUser('')).toEqual({ uid: 0 });
    expect(numericUser(undefined)).toEqual({ uid: 0 });
    expect(numericUser('1000')).toEqual({ uid: 1000 });
    expect(numericUser('1000:3000')).toEqual({ uid: 1000, gid: 3000 });
    expect(numericUser('nobody')).toBeUndefined();
    expect(numericUser('1000:staff')).toBeUndefined();
  });

  it("builds Docker's exec environment: PATH and HOSTNAME first, the container's Env over them, HOME last", () => {
    expect(execEnvironment(['A=1', 'HOSTNAME=mine', 'B=x=y', 'BARE'], 'web-1', '/root')).toEqual([
      `PATH=${DOCKER_DEFAULT_PATH}`,
      'HOSTNAME=mine',
      'A=1',
      'B=x=y',
      'HOME=/root',
    ]);
    expect(execEnvironment(['HOME=/home/app', 'PATH=/bin'], 'h', '/root')).toEqual(['PATH=/bin', 'HOSTNAME=h', 'HOME=/home/app']);
  });
});

describe('planExec', () => {
  it('plans the native route for a running container with a numeric user', () => {
    const route = planExec(inspect(), procFacts());
    expect(route).toEqual({
      handler: 'native',
      target: {
        containerId: ID,
        pid: 4242,
        startTime: 777,
        workingDir: '/srv',
        credentials: { uid: 0, gid: 0, groups: [0] },
        env: ['PATH=/usr/bin:/bin', 'HOSTNAME=web-1', 'GREETING=hi', 'HOME=/root'],
      },
    });
  });

  it('defaults the working directory to / and HOME to / when the main process has none', () => {
    const route = planExec(inspect({ Config: { Env: [] } }), procFacts({ environ: 'PATH=/bin\0' }));
    expect(route.handler === 'native' && route.target.workingDir).toBe('/');
    expect(route.handler === 'native' && route.target.env).toContain('HOME=/');
  });

  it('takes gid and groups from the main process when the user names only a uid', () => {
    const route = planExec(inspect({ Config: { User: '1000' } }), procFacts({ status: statusText(1000, 100, [100, 7]) }));
    expect(route.handler === 'native' && route.target.credentials).toEqual({ uid: 1000, gid: 100, groups: [100, 7] });
  });

  it('leaves to Docker what cannot run exactly as Docker would', () => {
    const reasons = [
      planExec(inspect({ State: { Running: false, Pid: 0 } }), undefined),
      planExec(inspect({ State: { Running: true, Paused: true, Pid: 4242 } }), procFacts()),
      planExec(inspect(), undefined),
      planExec(inspect(), procFacts({ cgroup: '1:pids:/user.slice\n' })),
      planExec(inspect({ Config: { User: 'nobody' } }), procFacts()),
      // The entrypoint dropped root: its groups say nothing of what Docker would give the exec.
      planExec(inspect({ Config: { User: '' } }), procFacts({ status: statusText(999, 999, []) })),
      planExec(inspect({ Config: { User: '1000:1000' } }), procFacts({ status: statusText(1000, 5, []) })),
    ].map((route) => (route.handler === 'docker' ? route.reason : 'native'));
    expect(reasons).toEqual([
      'the container is not running',
      'the container is not running',
      'its main process 4242 is gone',
      'process 4242 does not belong to the container',
      'user "nobody" is a name; Docker resolves it in the image',
      'the main process no longer runs as user ""',
      'the main process no longer runs as user "1000:1000"',
    ]);
  });
});
