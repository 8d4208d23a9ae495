// dockerode (Node.js) against the engine at DOCKER_HOST: each step
// prints "OK <step>"; any failure is a stack trace and exit 1. Run by
// TestAPINodeSDK (api_sdk_test.go) with busybox:latest in the store and
// NODE_PATH naming the node_modules dockerode is installed in.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { PassThrough } = require('stream');
const Docker = require('dockerode');

const docker = new Docker(); // DOCKER_HOST
// The test runs in the host's network namespace: containers get none.
const HostConfig = { NetworkMode: 'none' };

function ok(step) {
  console.log('OK ' + step);
}

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

function collect(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString()));
    stream.on('error', reject);
  });
}

// demux splits a hijacked or followed stream with docker-modem's
// demuxStream into its stdout and stderr, once it ends.
async function demux(stream) {
  const out = new PassThrough();
  const err = new PassThrough();
  docker.modem.demuxStream(stream, out, err);
  const ended = new Promise((resolve, reject) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  const texts = Promise.all([collect(out), collect(err)]);
  await ended;
  out.end();
  err.end();
  return texts;
}

// rejects is the error promise p rejects with.
async function rejects(p, what) {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error(what + ' succeeded');
}

async function main() {
  expect((await docker.ping()).toString() === 'OK', 'ping');
  const v = await docker.version();
  expect(v.ApiVersion && v.Os === 'linux', 'version: ' + JSON.stringify(v));
  console.log('dockerode', require('dockerode/package.json').version, 'API', v.ApiVersion);
  ok('ping');

  // create, attach, start, wait, logs
  const c = await docker.createContainer({
    Image: 'busybox', name: 'nodeone', Labels: { sdk: 'node' }, HostConfig,
    Cmd: ['sh', '-c', 'echo out; echo err >&2; exit 3'],
  });
  const attached = await c.attach({ stream: true, stdout: true, stderr: true });
  const streamed = demux(attached);
  await c.start();
  const w = await c.wait();
  expect(w.StatusCode === 3, 'wait: ' + JSON.stringify(w));
  const [aout, aerr] = await streamed;
  expect(aout === 'out\n' && aerr === 'err\n', 'attach: ' + JSON.stringify([aout, aerr]));
  const [lout, lerr] = await demux(await c.logs({ stdout: true, stderr: true, follow: true }));
  expect(lout === 'out\n' && lerr === 'err\n', 'logs: ' + JSON.stringify([lout, lerr]));
  const info = await c.inspect();
  expect(info.State.ExitCode === 3 && info.Name === '/nodeone' && info.Config.Labels.sdk === 'node', 'inspect: ' + JSON.stringify(info.State));
  const listed = await docker.listContainers({ all: true, filters: { label: ['sdk=node'] } });
  expect(listed.length === 1 && listed[0].Id === c.id && listed[0].State === 'exited', 'listContainers: ' + JSON.stringify(listed));
  await c.remove();
  ok('container');

  // exec with its stdin, stdout and stderr on the hijacked connection
  const srv = await docker.createContainer({ Image: 'busybox', name: 'nodesrv', Cmd: ['sleep', '1000'], HostConfig });
  await srv.start();
  const ex = await srv.exec({ Cmd: ['sh', '-c', 'tr a-z A-Z; echo done >&2; exit 5'], AttachStdin: true, AttachStdout: true, AttachStderr: true });
  const hs = await ex.start({ hijack: true, stdin: true });
  const execOut = demux(hs);
  hs.end('from node\n'); // half-closed: the exec's stdin ends
  const [xout, xerr] = await execOut;
  expect(xout === 'FROM NODE\n' && xerr === 'done\n', 'exec: ' + JSON.stringify([xout, xerr]));
  const xi = await ex.inspect();
  expect(xi.ExitCode === 5 && xi.Running === false, 'exec inspect: ' + JSON.stringify(xi));
  ok('exec');

  // images
  const images = await docker.listImages();
  expect(images.some((i) => (i.RepoTags || []).includes('busybox:latest')), 'listImages: ' + JSON.stringify(images));
  const img = await docker.getImage('busybox').inspect();
  expect(img.Id.startsWith('sha256:') && img.RepoTags.includes('busybox:latest') && img.Os === 'linux', 'image inspect: ' + JSON.stringify(img));
  ok('images');

  // a build from a context directory, followed to its end
  const ctx = fs.mkdtempSync(path.join(os.tmpdir(), 'dockerode-'));
  fs.writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM busybox\nARG X\nRUN echo "x=$X" > /x\nCMD ["cat", "/x"]\n');
  const bs = await docker.buildImage({ context: ctx, src: ['Dockerfile'] }, { t: 'nodebuilt:1', buildargs: { X: 'node' }, networkmode: 'none' });
  const msgs = await new Promise((resolve, reject) => docker.modem.followProgress(bs, (e, out) => (e ? reject(e) : resolve(out))));
  expect(!msgs.some((m) => m.error) && msgs.some((m) => m.aux && m.aux.ID), 'build: ' + JSON.stringify(msgs));
  const run = await docker.createContainer({ Image: 'nodebuilt:1', HostConfig });
  const runOut = demux(await run.attach({ stream: true, stdout: true, stderr: true }));
  await run.start();
  await run.wait();
  expect((await runOut)[0] === 'x=node\n', 'run of the build');
  await run.remove();
  // a failing RUN: an error message ends the stream, with its exit code
  fs.writeFileSync(path.join(ctx, 'Dockerfile.bad'), 'FROM busybox\nRUN exit 4\n');
  const bad = await docker.buildImage({ context: ctx, src: ['Dockerfile.bad'] }, { t: 'nodebad:1', dockerfile: 'Dockerfile.bad', networkmode: 'none' });
  const badMsgs = await new Promise((resolve, reject) => docker.modem.followProgress(bad, (e, out) => (e ? reject(e) : resolve(out))));
  const last = badMsgs[badMsgs.length - 1];
  expect(/returned a non-zero code: 4/.test(last.error) && last.errorDetail.code === 4, 'a failing build: ' + JSON.stringify(badMsgs));
  await docker.getImage('nodebuilt:1').remove();
  fs.rmSync(ctx, { recursive: true });
  ok('build');

  // errors: their status codes and docker's messages
  let e = await rejects(docker.getContainer('nosuch').inspect(), 'inspect nosuch');
  expect(e.statusCode === 404 && /No such container: nosuch/.test(e.json.message), 'inspect nosuch: ' + e);
  e = await rejects(docker.getImage('nosuch:1').inspect(), 'image inspect nosuch');
  expect(e.statusCode === 404, 'image inspect nosuch: ' + e);
  e = await rejects(docker.createContainer({ Image: 'busybox', name: 'nodesrv', Cmd: ['true'], HostConfig }), 'create of a name in use');
  expect(e.statusCode === 409, 'create of a name in use: ' + e);
  e = await rejects(srv.remove(), 'remove of a running container');
  expect(e.statusCode === 409, 'remove of a running container: ' + e);
  await srv.remove({ force: true });
  e = await rejects(srv.inspect(), 'inspect after remove');
  expect(e.statusCode === 404, 'inspect after remove: ' + e);
  ok('errors');
  ok('done');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
