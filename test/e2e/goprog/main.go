// Command goprog is the Go program of the smoke tests: it exercises what
// the Go runtime asks of a kernel — threads (clone), futexes, timers,
// signals for asynchronous preemption (SIGURG) on sigaltstack, and the
// garbage collector's stop-the-world — and prints only deterministic
// results, so that its output under the sandbox can be compared with a
// native run. It is built static (CGO_ENABLED=0) into bin/goprog.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	runtime.GOMAXPROCS(4)
	failed := false
	check := func(name string, ok bool) {
		if ok {
			fmt.Println("ok", name)
		} else {
			fmt.Println("FAIL", name)
			failed = true
		}
	}

	// Goroutines across threads, feeding results through channels.
	const workers = 64
	results := make(chan int, workers)
	var wg sync.WaitGroup
	for i := 0; i < workers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := 0
			for j := 0; j <= 10000*i; j++ {
				s += j % 7
			}
			results <- s
		}(i)
	}
	wg.Wait()
	close(results)
	var all []int
	for s := range results {
		all = append(all, s)
	}
	sort.Ints(all)
	sum := 0
	for _, s := range all {
		sum += s
	}
	fmt.Println("goroutine results:", len(all), sum)

	// A mutex-protected counter under contention.
	var mu sync.Mutex
	counter := 0
	var wg2 sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg2.Add(1)
		go func() {
			defer wg2.Done()
			for j := 0; j < 5000; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
		}()
	}
	wg2.Wait()
	fmt.Println("mutex counter:", counter)

	// Unbuffered channel ping-pong between two goroutines.
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v + 1
		}
		close(pong)
	}()
	v := 0
	for i := 0; i < 10000; i++ {
		ping <- v
		v = <-pong
	}
	close(ping)
	fmt.Println("ping-pong:", v)

	// Timers: Sleep, After in a select, a Ticker.
	start := time.Now()
	time.Sleep(20 * time.Millisecond)
	check("time.Sleep waits", time.Since(start) >= 20*time.Millisecond)
	never := make(chan int)
	select {
	case <-never:
		check("time.After fires", false)
	case <-time.After(10 * time.Millisecond):
		check("time.After fires", true)
	}
	tk := time.NewTicker(5 * time.Millisecond)
	ticks := 0
	for range tk.C {
		ticks++
		if ticks == 5 {
			break
		}
	}
	tk.Stop()
	fmt.Println("ticks:", ticks)
	timers := make(chan int, 100)
	for i := 0; i < 100; i++ {
		i := i
		time.AfterFunc(time.Duration(i%10)*time.Millisecond, func() { timers <- i })
	}
	got := 0
	for i := 0; i < 100; i++ {
		got += <-timers
	}
	fmt.Println("timer callbacks:", got)

	// Asynchronous preemption: with one P, a goroutine spinning without
	// function calls only yields when the runtime preempts it with a
	// signal (SIGURG).
	prev := runtime.GOMAXPROCS(1)
	var stop atomic.Bool
	spun := make(chan struct{})
	go func() {
		n := 0
		for !stop.Load() {
			n++
		}
		_ = n
		close(spun)
	}()
	time.Sleep(30 * time.Millisecond) // needs the spinner preempted
	stop.Store(true)
	<-spun
	check("preempted a spinning goroutine", true)
	runtime.GOMAXPROCS(prev)

	// Garbage: allocate, collect, run a finalizer.
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	keep := make([][]byte, 0, 64)
	for i := 0; i < 2000; i++ {
		b := make([]byte, 64<<10)
		b[0] = byte(i)
		if i%50 == 0 {
			keep = append(keep, b)
		}
	}
	finalized := make(chan struct{})
	func() {
		obj := new([1 << 16]byte)
		runtime.SetFinalizer(obj, func(*[1 << 16]byte) { close(finalized) })
	}()
	runtime.GC()
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	check("runtime.GC ran", after.NumGC > before.NumGC)
	select {
	case <-finalized:
		check("finalizer ran", true)
	case <-time.After(5 * time.Second):
		check("finalizer ran", false)
	}
	kept := 0
	for _, b := range keep {
		kept += int(b[0])
	}
	fmt.Println("kept:", len(keep), kept)

	// Many short-lived goroutines with a stack that grows.
	var depth func(int) int
	depth = func(n int) int {
		var pad [256]byte
		pad[n%256] = byte(n)
		if n == 0 {
			return int(pad[0])
		}
		return depth(n-1) + int(pad[n%256]&1)
	}
	var total atomic.Int64
	var wg3 sync.WaitGroup
	for i := 0; i < 200; i++ {
		wg3.Add(1)
		go func() {
			defer wg3.Done()
			total.Add(int64(depth(2000)))
		}()
	}
	wg3.Wait()
	fmt.Println("stack growth:", total.Load())

	// System calls through package syscall (Go's Syscall6, which systrap
	// patches) from goroutines on several threads, while the runtime
	// preempts them with signals: every result must be right.
	pid, ppid := syscall.Getpid(), syscall.Getppid()
	var bad atomic.Int64
	var wg4 sync.WaitGroup
	stopSpin := make(chan struct{})
	go func() { // keeps the runtime preempting
		for {
			select {
			case <-stopSpin:
				return
			default:
				for i := 0; i < 1e5; i++ {
				}
			}
		}
	}()
	for g := 0; g < 8; g++ {
		wg4.Add(1)
		go func(g int) {
			defer wg4.Done()
			var p [2]int
			if err := syscall.Pipe(p[:]); err != nil {
				bad.Add(1)
				return
			}
			defer syscall.Close(p[0])
			defer syscall.Close(p[1])
			out, in := []byte{byte(g), 0, 0}, make([]byte, 8)
			for i := 0; i < 5000; i++ {
				out[1], out[2] = byte(i), byte(i>>8)
				n, err := syscall.Write(p[1], out)
				m, err2 := syscall.Read(p[0], in)
				if n != 3 || m != 3 || err != nil || err2 != nil || in[0] != out[0] || in[1] != out[1] || in[2] != out[2] ||
					syscall.Getpid() != pid || syscall.Getppid() != ppid {
					bad.Add(1)
				}
			}
		}(g)
	}
	wg4.Wait()
	close(stopSpin)
	check("syscalls from 8 goroutines", bad.Load() == 0)

	if failed {
		os.Exit(1)
	}
	fmt.Println("done")
}
